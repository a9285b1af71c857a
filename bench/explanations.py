"""Why a figure misses its target, from the profiles behind it: printed under the table for
each row that missed, with what would fix it. Keyed by the start of the row's figure."""

from __future__ import annotations

from bench.report import Row

WHY: dict[str, str] = {
    "`fpx serve` launch": (
        "the server it starts is `python -m server`, itself about 1.15 x the baseline; fpx "
        "already spawns it right after the port check (no pydantic, no http.client, /readyz "
        "probed on a plain socket every 3 ms, the listener checked once). What is left is "
        "fpx's own interpreter start and site (about 26 ms, 0.1 x) and importing typer to "
        "parse `serve`'s options (20-30 ms) before the spawn; with fpx and its server pinned "
        "to one CPU, reordering cannot hide them. Even a hand-written parser that skipped "
        "typer would land near 1.4 x: meeting 1.25 x needs a server that starts faster."
    ),
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
}


def explain(rows: list[Row]) -> list[str]:
    """A paragraph for each missed row that has an explanation."""
    lines: list[str] = []
    for row in rows:
        if row.verdict != "MISSED":
            continue
        why = next((text for start, text in WHY.items() if row.figure.startswith(start)), None)
        lines.append(f"- **{row.figure}** missed its target: {why or 'not yet investigated.'}")
    return ["## Targets missed, and why", "", *lines] if lines else []
