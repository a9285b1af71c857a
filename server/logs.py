"""Logging for the server process: one format for fpx's and uvicorn's loggers."""

from __future__ import annotations

from typing import Any


def serve_log_config(level: str) -> dict[str, Any]:
    """A logging dictConfig for uvicorn's `log_config`."""
    level = level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        },
        "handlers": {"stderr": handler},
        "loggers": {
            "fpx": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
