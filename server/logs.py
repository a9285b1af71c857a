"""Logging for the server process: one format for fpx's and uvicorn's loggers.

FPX_LOG_FORMAT=text (the default) writes lines for people; json writes one JSON object per
line for log shippers (python-json-logger): time, level, logger, process (the worker's pid),
message, and the fields a line
carries: the request id, method, route, status and duration of a request line, the task id of
a task line. Those come from the context the line is logged in (`request_id`, `task_id`), set
once per request and once per job, so no log call has to pass them.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

LOG_FORMATS = ("text", "json")

# The request (server/middleware.py) or the task (the runner's job) a line is logged for.
request_id: ContextVar[str | None] = ContextVar("fpx_request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("fpx_task_id", default=None)


def count(n: int, noun: str) -> str:
    """`1 task`, `2 tasks`: a number of things as a log line says it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class ContextFields(logging.Filter):
    """Put the request id and task id of the current context on each record (JSON lines show
    them; the text format does not print them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (rid := request_id.get()) is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        if (tid := task_id.get()) is not None and not hasattr(record, "task_id"):
            record.task_id = tid
        return True


def serve_log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """A logging dictConfig for uvicorn's `log_config`."""
    level = level.upper()
    formatters: dict[str, Any] = {
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    }
    handler = {
        "class": "logging.StreamHandler", "formatter": log_format, "stream": "ext://sys.stderr",
        "filters": ["context"],
    }
    loggers = ("fpx", "uvicorn", "uvicorn.access")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFields}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": level, "propagate": False} for name in loggers
        },
    }
