"""Shell completion of values that only the server knows: recent task ids, job names.

Typer completes commands and options itself (`fpx --install-completion`); these are the
`autocompletion` callbacks of the arguments that name a task or a job. They ask the server the
command line points to (`--url`, else FPX_URL, else the recorded server, else the default),
within a short timeout, and complete quietly nothing when no server answers: a shell waiting
on a Tab press must never see an error or hang.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import typer

# A Tab press waits for this at the most (twice: connecting, then reading).
COMPLETION_TIMEOUT = 0.5
RECENT_TASKS = 50
UNFINISHED = ("pending", "running")
# What the server's answer may put into the shell: a value of another shape (a newline, a
# quote, an escape sequence) is left out, never printed.
_TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_JOB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def _given(ctx: typer.Context, name: str) -> Any:
    """A global option as given on the command line so far, on this command or before it."""
    while ctx is not None:
        if ctx.params.get(name):
            return ctx.params[name]
        ctx = ctx.parent
    return None


def _ask(ctx: typer.Context, path: str, params: dict | None = None) -> Any:
    """The server's JSON answer to GET `path`, or None (no server, an error, a bad option)."""
    from cli import state
    from cli.client import ApiClient
    from cli.errors import CliError
    from cli.session import DEFAULT_URL

    try:
        url = _given(ctx, "url") or os.environ.get("FPX_URL")
        if not url:
            record = state.running()
            url = record.url if record is not None else DEFAULT_URL
        token = _given(ctx, "token") or os.environ.get("FPX_API_TOKEN") or None
        with ApiClient(url, timeout=COMPLETION_TIMEOUT, token=token) as api:
            return api.request("GET", path, params=params).data
    except (CliError, OSError, ValueError):
        return None


def task_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """The ids of the server's recent tasks that start with what was typed."""
    return _task_ids(ctx, incomplete, lambda status: True)


def unfinished_task_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Those of the recent tasks still pending or running (what `fpx task cancel` takes)."""
    return _task_ids(ctx, incomplete, lambda status: status in UNFINISHED)


def finished_task_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Those of the recent tasks that finished (what `fpx task delete` takes)."""
    return _task_ids(ctx, incomplete, lambda status: status not in UNFINISHED)


def _task_ids(
    ctx: typer.Context, incomplete: str, wanted: Callable[[object], bool]
) -> list[str]:
    tasks = _ask(ctx, "/tasks", {"limit": RECENT_TASKS})
    if not isinstance(tasks, list):
        return []
    ids = [t.get("id") for t in tasks if isinstance(t, dict) and wanted(t.get("status"))]
    return [i for i in ids if _fits(_TASK_ID, i, incomplete)]


def job_and_args(ctx: typer.Context, incomplete: str) -> list[str]:
    """`fpx task submit JOB ARG...`: the server's job names first, then that job's
    parameters, as `name=` (a string) or `name:=` (any other JSON value)."""
    jobs = _ask(ctx, "/jobs")
    if not isinstance(jobs, list):
        return []
    by_name = {
        j["name"]: j for j in jobs
        if isinstance(j, dict) and _fits(_JOB_NAME, j.get("name"), "")
    }
    given = ctx.params.get("words") or ()  # the JOB ARG... words typed so far
    if not given:
        return [name for name in by_name if name.startswith(incomplete)]
    properties = (by_name.get(given[0], {}).get("parameters") or {}).get("properties")
    if not isinstance(properties, dict):
        return []
    offered = []
    for name, schema in properties.items():
        if not _fits(_JOB_NAME, name, "") or any(g.startswith(f"{name}=") or
                                                g.startswith(f"{name}:=") for g in given):
            continue
        is_text = isinstance(schema, dict) and schema.get("type") == "string"
        word = f"{name}=" if is_text else f"{name}:="
        if word.startswith(incomplete):
            offered.append(word)
    return offered


def _fits(shape: re.Pattern[str], value: object, incomplete: str) -> bool:
    return isinstance(value, str) and bool(shape.match(value)) and value.startswith(incomplete)
