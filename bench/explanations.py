"""Why a figure misses its target, from the profiles behind it: printed under the table for
each row that missed, with what would fix it. Keyed by the start of the row's figure; a row
with no profile behind it says so rather than guess."""

from __future__ import annotations

from bench.report import Row

WHY: dict[str, str] = {
    "`/predict` requests/s through FastAPI's routing": (
        "py-spy of the fpx server under the same wrk load (2026-12-01 18:40): FastAPI's "
        "dependency solving of the query model is 27% of a request, as in the one-route app; "
        "what fpx adds is its own per-request work: the metrics middleware and the predict "
        "timing (about 8%, the `/predict` with metrics row measures the same: 0.91 x), the "
        "route class that puts the token, size and type refusals after routing (issue 11: "
        "about 2%), the request-id middleware with the log context (about 2%), the path guard"
        " (under 1%), and the included router's matching (about 3%). At 17:09, before the "
        "metrics and reliability work, the same row was 0.83 x; a re-run after the metrics "
        "series were kept gave 0.68 x. What would close it: fewer middleware layers (one pure"
        " ASGI middleware for the request id, the path guard and the metrics, instead of "
        "three)."
    ),
    "`fpx serve` launch": (
        "fpx's own work before it spawns its server (the row's note gives its median, about a "
        "quarter of the launch) is what `fastapi run` does not pay twice. "
        "`python -X importtime -m cli serve` on a port in use and cProfile of the same show "
        "where it goes: importing typer (about 0.1 s) and, for Typer's own parsing of the "
        "options, pydantic and one TypeAdapter per option (typer._adapters: 0.16 s of imports, "
        "0.06 s of building), which Typer 0.29 does for every option of the command it runs. "
        "The server then takes as long from its spawn to ready as bare uvicorn with the "
        "one-route app (the `python -m server` row). `fastapi run` imports typer, pydantic and "
        "FastAPI once, in one interpreter, and serves the app in it; fpx serve runs the server "
        "in a subprocess of its own (the design card asks for one), so the two start-ups add "
        "up. Typer offers no public way to parse options without pydantic (its `parser=` "
        "still builds a TypeAdapter), and spawning before the options are parsed is the "
        "workaround issue 9 removed: the miss is accepted."
    ),
    "`fpx --help`": (
        "both import typer.rich_utils to render help (rich.markdown and markdown_it, about "
        "44 ms with `python -X importtime`, the same for both). fpx's extra, from pyinstrument "
        "of both commands: rendering a help of 13 commands and the exit-code epilog, against "
        "two commands; the command modules themselves are imported only when their command "
        "runs (cli/group.py)."
    ),
    "`fpx predict 3.5`": (
        "a client command pays for typer and Typer's pydantic coercion of its options (see "
        "the `fpx serve` paragraph), then one http.client request; "
        "`python -X importtime -m cli predict 3.5` shows which imports decide it."
    ),
    "`POST /tasks`": (
        "each task is three SQLite writes (create, claim, finish) in a database thread that "
        "shares the server's CPU with the event loop; server/db.py groups concurrent writes "
        "into one transaction. What remains is FastAPI's per-request cost of the route: body "
        "validation, three dependencies (about 15% when replaced by `request.app.state`) and "
        "the response model."
    ),
    "no-op tasks from `POST /tasks` to succeeded, over HTTP: tasks/s of 2 hosts": (
        "PostgreSQL is the limit, and not its CPU: the row's note samples what the database's "
        "backends wait for (2026-12-06 09:45, 4,000 tasks a turn: 1 host 46% and 2 hosts 81% of "
        "the samples waiting for an object lock, then WAL writes) and counts the CPU seconds "
        "of every process of the figure (57% and 63% of the 2 CPUs). That lock is the one "
        "NOTIFY takes at commit: PostgreSQL's async.c serializes every transaction that "
        "NOTIFYs, cluster-wide, on one lock held until after its commit, so that notifications "
        "queue in commit order. fpx's trigger NOTIFYs each new task, so task creations commit "
        "one at a time, WAL flush included, whichever host sends them: a second host adds "
        "committers to the same queue, not throughput. What would close it is fewer "
        "NOTIFYing commits (a host that will claim the task itself, or a busy cluster, needs "
        "no wake-up; or one NOTIFY for many inserts), which is the backend's design (issue 12 "
        "asks for pushed wake-ups); on more cores the hosts' own CPU would show next."
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
