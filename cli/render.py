"""Rich renderables for the server's data: pure functions, data in, renderable out.

Nothing here prints or talks HTTP (cli/output.py prints, cli/client.py calls the server).
Text from the server is put in `Text` objects, never parsed as rich markup.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.json import JSON
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "pending": "yellow",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
    "interrupted": "red",
}
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")


def _when(value: str | None) -> str:
    """An ISO time from the server, in local time to the second."""
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _path(value: str | None) -> str | None:
    """A path as a person reads it: under the home directory, as ~/... (as a shell shows it)."""
    if not value:
        return value
    home = os.path.expanduser("~")
    if home not in ("", "/") and (value == home or value.startswith(home + os.sep)):
        return "~" + value[len(home):]
    return value


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _fields(title: str, rows: Iterable[tuple[str, Any]], style: str = "blue") -> Panel:
    """A panel of `name  value` lines; None values are left out."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        if value is not None:
            grid.add_row(name, value if isinstance(value, Text | JSON) else Text(str(value)))
    return Panel(grid, title=title, title_align="left", border_style=style, expand=False)


def _table(*columns: str) -> Table:
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column)
    return table


WRAPPED_MIN_WIDTH = 12


@dataclass(frozen=True)
class Column:
    """A column of a FittingTable: its header, its cell of a row (and the shorter cell to use
    when the table must be narrower), and whether its text may wrap."""

    header: str
    cell: Callable[[dict], RenderableType]
    short: Callable[[dict], RenderableType] | None = None
    wrap: bool = False


class FittingTable:
    """Rows as a table that fits the terminal, never cut to `…`: the columns whole if they
    fit; else their short cells (ids to their first characters); else, the least useful
    first, columns left out. A dim line then says exactly what is not shown, and where it all
    is. `columns` come most useful first; the first `keep` are never left out."""

    def __init__(
        self, rows: list[dict], columns: list[Column], *, keep: int, full: str, shortened: str,
    ) -> None:
        self.rows = rows
        self.columns = columns
        self.keep = keep
        self.full = full  # the command that shows everything: "fpx task list --json"
        self.shortened = shortened  # what the short cells drop: "ids cut to 8 characters"

    def table(self, columns: list[Column], short: bool) -> Table:
        table = _table(*(c.header for c in columns))
        for spec, column in zip(columns, table.columns, strict=True):
            column.no_wrap = not spec.wrap
            if spec.wrap:  # it may fold, but not into a sliver of `…`
                column.min_width = WRAPPED_MIN_WIDTH
        for row in self.rows:
            table.add_row(*(
                (c.short if short and c.short else c.cell)(row) for c in columns
            ))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=1_000_000)  # its natural width, not the clamped one
        has_short = any(c.short for c in self.columns)
        tries = [(self.columns, False)] + ([(self.columns, True)] if has_short else []) + [
            (self.columns[:n], has_short) for n in range(len(self.columns) - 1, self.keep - 1, -1)
        ]
        for columns, short in tries:
            table = self.table(columns, short)
            # The narrowest it can be: every cell whole, but for the wrapping columns.
            if Measurement.get(console, unbounded, table).minimum <= options.max_width:
                break
        yield table
        left_out = [c.header for c in self.columns[len(columns):]]
        notes = [self.shortened] if short else []
        if left_out:
            notes.append(f"left out to fit: {', '.join(left_out)}")
        if notes:
            yield Text(f"{'; '.join(notes)}; all of it: {self.full}", style="dim")


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# -- predict and models --------------------------------------------------------------------


def prediction(data: dict) -> Text:
    return Text.assemble(
        (str(data["model"]), "cyan"), f"({data['x']!r}) = ", (repr(data["result"]), "bold green")
    )


def models(data: list[dict]) -> Table:
    table = _table("model", "loaded at", "load ms")
    for model in data:
        table.add_row(
            Text(model["name"], "cyan"), _when(model["loaded_at"]), f"{model['load_ms']:g}"
        )
    return table


# -- users and items -------------------------------------------------------------------------


def user(data: dict) -> Text:
    return Text(data["username"], style="bold")


def users(data: list[dict]) -> Table:
    table = _table("username")
    for entry in data:
        table.add_row(Text(entry["username"]))
    return table


def item(data: dict) -> Panel:
    return _fields(f"item {data['id']}", [
        ("name", Text(data["name"])),
        ("description", Text(data["description"]) if data.get("description") else None),
        ("created", _when(data.get("created_at"))),
    ])


ITEM_COLUMNS = [
    Column("id", lambda i: str(i["id"])),
    Column("name", lambda i: Text(i["name"]), wrap=True),
    Column("created", lambda i: _when(i.get("created_at"))),
    Column("description", lambda i: Text(i.get("description") or ""), wrap=True),
]


def items(data: list[dict]) -> RenderableType:
    if not data:
        return Text("no items", style="dim")
    return FittingTable(data, ITEM_COLUMNS, keep=2, full="fpx items list --json", shortened="")


def item_deleted(data: dict) -> Text:
    return Text(f"deleted item {data['id']}", style="green")


# -- tasks -------------------------------------------------------------------------------------


def task_line(task: dict) -> Text:
    """`task 1f0e… running` for a progress bar."""
    return Text.assemble(f"task {task['id'][:8]}… ", _status(task["status"]))


def time_left(task: dict) -> str:
    """What the progress bar says beside the bar: the job's note, or the sleep's time left."""
    if task["status"] == "pending":
        return "waiting for a worker"
    if task["status"] != "running":
        return ""
    if task.get("message"):
        return str(task["message"])
    if task.get("wait_time") is not None:
        return f"{task['wait_time'] * (1 - task['progress']):.1f} s left"
    return ""


def json_value(value: Any) -> RenderableType:
    """A JSON value from the server: a string as is, anything else as indented JSON."""
    if isinstance(value, str):
        return Text(value)
    return JSON(json.dumps(value, ensure_ascii=False), indent=2)


def _args(args: Any) -> Text:
    return Text(json.dumps(args, ensure_ascii=False))


class TitledPanel:
    """A panel whose title (a task's id) is never cut: on a terminal too narrow for it, the
    title is a line of its own above the panel."""

    def __init__(self, title: str, panel: Panel) -> None:
        self.title = title
        self.panel = panel

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if len(self.title) + 6 <= options.max_width:  # the borders and the title's padding
            self.panel.title = self.title
            yield self.panel
            return
        self.panel.title = None
        yield Text(self.title, style="bold")
        yield self.panel


def task(data: dict) -> TitledPanel:
    panel = _task_fields(data)
    return TitledPanel(str(panel.title), panel)


def _task_fields(data: dict) -> Panel:
    status = data["status"]
    wait_time = data.get("wait_time")
    limit = data.get("time_limit")
    return _fields(f"task {data['id']}", [
        ("status", _status(status)),
        ("job", Text(str(data.get("job", "sleep")), "cyan")),
        ("args", _args(data["args"]) if data.get("args") is not None else None),
        ("wait time", f"{wait_time} s" if wait_time is not None else None),
        ("time limit", f"{limit:g} s" if limit is not None else None),
        ("progress", f"{data['progress'] * 100:.0f}%"),
        ("message", Text(data["message"]) if data.get("message") else None),
        ("created", _when(data.get("created_at"))),
        ("started", _when(data["started_at"]) if data.get("started_at") else None),
        ("finished", _when(data["finished_at"]) if data.get("finished_at") else None),
        ("result", json_value(data["result"]) if data.get("result") is not None else None),
        ("error", Text(data["error"], "red") if data.get("error") else None),
        ("worker", data.get("worker")),
        ("attempts", data.get("attempts")),
    ], style=STATUS_STYLES.get(status, "blue"))


SHORT_ID = 8


def _outcome(entry: dict) -> Text:
    outcome = entry.get("error") or entry.get("result")
    if outcome is not None and not isinstance(outcome, str):
        outcome = _args(outcome).plain
    return Text(outcome or "")


TASK_COLUMNS = [
    Column("id", lambda t: t["id"], short=lambda t: t["id"][:SHORT_ID]),
    Column("status", lambda t: _status(t["status"])),
    Column("progress", lambda t: f"{t['progress'] * 100:.0f}%"),
    Column("job", lambda t: Text(str(t.get("job", "sleep")))),
    Column("created", lambda t: _when(t.get("created_at")),
           short=lambda t: _when(t.get("created_at"))[5:]),  # without the year
    Column("result", _outcome, wrap=True),
]


def tasks(data: list[dict]) -> RenderableType:
    if not data:
        return Text("no tasks", style="dim")
    return FittingTable(
        data, TASK_COLUMNS, keep=2, full="fpx task list --json",
        shortened=f"ids cut to their first {SHORT_ID} characters",
    )


def task_submitted(data: dict) -> Group:
    task_id = data["id"]
    wait_time = data.get("wait_time")
    runs = f"runs {wait_time} s" if wait_time is not None else f"job {data.get('job')}"
    return Group(
        Text.assemble(
            "accepted task ", (task_id, "bold"), " (", _status(data["status"]), f", {runs})",
        ),
        Text(f"  follow it:   fpx task wait {task_id}", style="dim"),
        Text(f"  look it up:  fpx task get {task_id}", style="dim"),
    )


def task_counts(counts: dict) -> Text:
    """`2 running, 5 succeeded`: the states that have tasks."""
    parts: list[Any] = []
    for status, n in counts.items():
        if n:
            parts.extend([", " if parts else "", (f"{n} ", "bold"), _status(status)])
    return Text.assemble(*parts) if parts else Text("none", style="dim")


def task_deleted(data: dict) -> Text:
    return Text(f"deleted task {data['id']}", style="green")


# -- jobs ----------------------------------------------------------------------------------------


def _type(schema: dict) -> str:
    """A JSON Schema's type in a few words: `integer`, `array of number`, `string | null`."""
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "type" not in schema and "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = str(schema.get("type", "any"))
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type(schema['items'])}"
    return kind


def _parameters(schema: dict) -> Text:
    """One line per parameter, as a signature writes it: `name: type = default`."""
    required = set(schema.get("required", []))
    lines = []
    for name, prop in (schema.get("properties") or {}).items():
        line = Text.assemble((name, "bold"), f": {_type(prop)}")
        if name not in required:
            line.append(f" = {json.dumps(prop.get('default'), ensure_ascii=False)}", "dim")
        lines.append(line)
    return Text("\n").join(lines) if lines else Text("(none)", "dim")


def jobs(data: list[dict]) -> Table:
    """Each job: how it runs, its parameters (name, type, default) and what it does."""
    table = _table("job", "runs", "parameters", "description")
    for column in table.columns[:3]:
        column.no_wrap = True
    for job in data:
        table.add_row(
            Text(job["name"], "cyan"), Text(job["runs"]), _parameters(job.get("parameters") or {}),
            Text(job.get("description", "")),
        )
    return table


# -- health, server, check ---------------------------------------------------------------------


def health(data: dict) -> Table:
    table = _table("endpoint", "status", "answer")
    for endpoint, answer in data.items():
        state = answer.get("status", "?")
        style = "green" if state in ("alive", "ready") else "yellow"
        extra = ", ".join(answer.get("models", []))
        table.add_row(f"/{endpoint}", Text(state, style), Text(extra))
    return table


def server_ready(data: dict) -> Panel:
    return _fields("fpx server ready" + (" (detached)" if data.get("log") else ""), [
        ("url", Text(data["url"], "bold cyan")),
        ("docs", Text(data["docs"], "cyan")),
        ("pid", data["pid"]),
        ("models", ", ".join(data["models"])),
        ("database", _path(data["db"])),
        ("log", _path(data.get("log"))),
        ("started in", f"{data['startup_s']:.2f} s"),
        ("stop it", "fpx stop" if data.get("log") else "Ctrl-C"),
    ], style="green")


def server_status(data: dict) -> Panel:
    ready = data.get("ready")
    return _fields("fpx server", [
        ("status", Text("ready", "green") if ready else Text(data.get("state", "?"), "yellow")),
        ("url", Text(data["url"], "bold cyan")),
        ("pid", data["pid"]),
        ("uptime", duration(data["uptime_s"])),
        ("models", ", ".join(data["models"]) if data.get("models") else None),
        ("tasks", task_counts(data["tasks"]) if data.get("tasks") else None),
        ("database", _path(data.get("db"))),
        ("log", _path(data.get("log"))),
        ("stop it", "fpx stop" if data.get("detached", True) else "Ctrl-C where it runs"),
    ], style="green" if ready else "yellow")


def server_stopped(data: dict) -> Text:
    how = "stopped" if data["graceful"] else "killed (it did not stop in time)"
    return Text(f"fpx server pid {data['pid']} at {data['url']} {how}", style="green")


def checks(results: list[dict]) -> Group:
    table = _table("", "check", "expected", "got", "ms")
    for result in results:
        mark = Text("✓", "green") if result["ok"] else Text("✗", "bold red")
        got_style = "" if result["ok"] else "red"
        table.add_row(
            mark, result["check"], Text(result["expected"]), Text(result["got"], got_style),
            f"{result['ms']:.1f}",
        )
    failed = sum(not r["ok"] for r in results)
    summary = (
        Text(f"all {len(results)} checks passed", "bold green") if not failed
        else Text(f"{failed} of {len(results)} checks failed", "bold red")
    )
    return Group(table, Text(""), summary)
