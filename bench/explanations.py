"""Why a figure misses its target, from the profiles behind it: printed under the table for
each row that missed, with what would fix it. Keyed by the start of the row's figure; a row
with no profile behind it says so rather than guess."""

from __future__ import annotations

from bench.report import Row

WHY: dict[str, str] = {
    "`fpx --help`": (
        "both import typer.rich_utils to render help (rich.markdown and markdown_it, about "
        "44 ms with `python -X importtime`, the same for both). fpx's extra, from pyinstrument "
        "of both commands: its command modules' imports under cli.main (about 7 ms over "
        "typer's own 27 ms), and rendering a help of 13 commands, two option panels and the "
        "exit-code epilog (about 18 ms against 10 ms). Importing the command modules only when "
        "their command runs and a shorter root help would close it; cli/ is not bench's to "
        "change."
    ),
    "`fpx predict 3.5`": (
        "the CLI's imports decide it (`python -X importtime -c 'import cli.main'`): a client "
        "command should import neither fastapi, uvicorn, rich.progress nor httpx's full stack."
    ),
    "`POST /tasks`": (
        "each task is three SQLite writes (create, claim, finish) in a database thread that "
        "shares the server's CPU with the event loop; server/db.py groups concurrent writes "
        "into one transaction. What remains is FastAPI's per-request cost of the route: body "
        "validation, three dependencies (about 15% when replaced by `request.app.state`) and "
        "the response model."
    ),
    "`/predict` p99 while 8 clients send": (
        "refusing the body is now one error, not 8,680 (which cost about 500 ms of the event "
        "loop each, in pydantic, FastAPI's error list and jsonable_encoder); what remains, "
        "from cProfile of the request, is FastAPI's stdlib json.loads of 64 KiB of keys "
        "(2 to 4 ms) and uvicorn receiving it. Eight clients sending nothing else keep the one "
        "event loop busy with that, so /predict waits its turn. More workers (FPX_WORKERS), a "
        "smaller FPX_MAX_BODY_SIZE or a reverse proxy limiting each client's rate would close "
        "it; a parser of fpx's own in front of FastAPI's would step around the framework."
    ),
}


def explain(rows: list[Row]) -> list[str]:
    """A paragraph for each missed row: its explanation, or that it has none yet."""
    lines: list[str] = []
    for row in rows:
        if row.verdict != "MISSED":
            continue
        why = next((text for start, text in WHY.items() if row.figure.startswith(start)), None)
        lines.append(
            f"- **{row.figure}** against {row.baseline_name} missed its target ({row.target}): "
            f"{why or 'not profiled yet.'}"
        )
    return ["## Targets missed, and why", "", *lines] if lines else []
