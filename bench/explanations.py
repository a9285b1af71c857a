"""Why a figure misses its target, from the profiles behind it: printed under the table for
each row that missed, with what would fix it. Keyed by the start of the row's figure; a row
with no profile behind it says so rather than guess."""

from __future__ import annotations

from bench.report import Row

WHY: dict[str, str] = {
    "`/predict` requests/s through FastAPI's routing": (
        "in-process (the app called without a server, 2,000 requests a turn, turns "
        "interleaved in one process, 2026-12-06) the one-route app takes 46 us a request and "
        "fpx 80 us; served by uvicorn, the rest of a request (uvicorn, the event loop, the "
        "socket) is the same for both. py-spy under the same wrk load gives the ratio: "
        "uvicorn's own frames are 27% of fpx's samples and 36% of the one-route app's, so, "
        "uvicorn's work "
        "being the same, a request costs fpx 1.35 x as much CPU (0.74 x the requests/s); "
        "wrk's runs on this shared machine "
        "gave 0.57 to 0.65 x. What fpx adds, measured by taking one part away at a time: "
        "FastAPI 0.165's included "
        "router, which matches its routes twice (_IncludedRouter.matches, then again when it "
        "handles the request), 9 us against the same route on the app; the request "
        "middleware (request id and log context, path guard, access line: 6 us; counting and "
        "timing for /metrics: 5 us more, the `/predict` with metrics row); the route class "
        "that puts the token, size and type refusals in issue 11's order, 3 us; "
        "fastapi-offline's static mount, matched before the routers as FastAPI's docs routes "
        "are, 1 us; the rest, about 10 us, is the route's own (two constrained query "
        "parameters where the one-route app has one float, the Request, the registry, the "
        "model call and its timing). Already taken "
        "out: the query parameter model (FastAPI 0.165 extracts one field by field before "
        "validating it: 4.5 us) and two of the three middleware layers. What remains is "
        "FastAPI's cost of an included router, and behaviour the tests hold."
    ),
    "`fpx serve` launch": (
        "fpx's own work before it spawns its server (the row's note gives its median) is "
        "what `fastapi run` does not pay twice. Timed inside `fpx serve` (2026-12-06, a busy "
        "machine, best of 5): the interpreter's start (30 to 50 ms, `python -c pass`), "
        "importing typer (73 ms), fpx's CLI modules (9 ms), then Typer's parsing of the "
        "options: its first option imports pydantic and builds a TypeAdapter (128 ms), the "
        "other 17 options of `fpx serve` and the root take 13 ms more (Typer 0.29 builds one "
        "TypeAdapter per option in process_value, for an option left at its default too; "
        "only a bool flag is spared), then the port check and the spawn (10 ms, fork and "
        "exec). So 0.2 s of the 0.24 s before the spawn is Typer and pydantic; fpx's own "
        "part is about 30 ms, and after the spawn its wait is for the server: the server "
        "listens before its app starts (server/__main__.py), so the poll's connection waits "
        "in the backlog and is answered as soon as uvicorn serves. The server then takes as "
        "long from its spawn to ready as the "
        "`python -m server` row. `fastapi run` imports typer, pydantic and FastAPI once, in "
        "one interpreter, and serves the app in it; fpx serve runs the server in a subprocess "
        "of its own (the design card asks for one), so the two start-ups add up: with the "
        "server's start alone at 0.91 s, 1.1 x of `fastapi run`'s 0.86 s would leave fpx "
        "36 ms for its own interpreter, typer and pydantic (in a later run, 0.47 s and 0.47 "
        "s: 47 ms). Typer offers no public way to parse options "
        "without pydantic (its `parser=` still builds a TypeAdapter, and 0.29 dropped "
        "`click_type`), and spawning before the options are parsed is the workaround issue 9 "
        "removed: the miss is accepted."
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
        "py-spy of the fpx server under the same hey load (2026-12-06): 47% of its samples "
        "handle the request (FastAPI reading and validating the body, the route, the "
        "response, the middleware), 24% are the database thread (each task is three SQLite "
        "writes: create, claim, finish; server/groupcommit.py groups concurrent writes into "
        "one transaction), 13% the event loop itself, 3% the runner. Since, the end of a job "
        "no longer sends a claim query when the runner knows of nothing pending. "
        "Matching POST /tasks took "
        "31 us while its router came after five others, 11 us now that it comes second "
        "(timed on the app's routes); CPU per submitted and finished task went from 543 to "
        "528 us (A/B, 8 rounds each, one run), against the tutorial's 230 us. In FastAPI "
        "itself, per request: `_should_embed_body_fields` (3%) and the "
        "telemetry middleware's provider lookups (1.5%), which the tutorial app pays too. "
        "The tutorial app keeps a dict and writes nothing."
    ),
    "no-op tasks from `POST /tasks` to succeeded, over HTTP: tasks/s of 2 hosts": (
        "PostgreSQL's commits are the limit, then this 2-core machine: the row's note samples "
        "what the database's backends wait for and counts the CPU seconds of every process of the "
        "figure. Until 2026-12-06 every creation was a transaction of its own and fpx's "
        "trigger NOTIFYs on insert; PostgreSQL serializes every NOTIFYing transaction, "
        "cluster-wide, on one lock held through its commit, so creations committed one at a "
        "time whichever host sent them (39% of the samples with 1 host, 73% with 2; 308 and "
        "383 tasks/s). Now the creations, claims by id and finishes that reach a worker "
        "together are one statement each (server/groupcommit.py): in two runs after that "
        "change (a busy shared machine) 1 host did 1,600 and 1,256 tasks/s and 2 "
        "hosts 1,389 and 1,385 (0.87 and 1.10 x), the backends waiting on the WAL flush of "
        "each commit (WALSync and WALWrite 37 to 68% of the samples) or on CPU, and the one "
        "host's process using up to 3.0 CPU seconds of 3.4 s: one host is near its own CPU "
        "limit, and the machine has 2 CPUs for PostgreSQL, the hosts and hey. A second host "
        "splits the same submissions into two hosts' groups, so the same "
        "tasks take more, smaller commits: what one host gains by grouping is what a second "
        "host gives back, and each commit waits for its fsync (synchronous_commit, which "
        "'nothing accepted is lost' needs). More hosts pay off where there are more cores, "
        "and where jobs do work."
    ),
    "`/predict` requests/s with metrics on": (
        "within this machine's spread, not profiled further: the same code gave 0.88, 0.89 and "
        "0.95 x in three runs of this figure on 2026-12-06 (0.91 and 0.93 x before that day's "
        "changes). What metrics cost is known from the `/predict` row's break-down: counting "
        "and timing each request by route, about 5 us of fpx's 80 us in-process; the "
        "prometheus-client calls are the documented ones (a labelled child per route, cached)."
    ),
    "a 2 s CPU-bound job": (
        "not a change of fpx's code, and not profiled yet: on 2026-12-06 the same figure gave "
        "1.15, 1.15 and 1.14 x on this code and 1.16, 1.20 and 1.15 x on the server code of "
        "the 2026-12-01 run that measured 0.98 x, taking turns in one session. Both sides run "
        "on the server's CPU; fpx's side also serves the 20 ms status polls and sends the job "
        "through its process's pipe. What moved the ratio that day is open."
    ),
    "`/predict` p99 while 8 clients send": (
        "refusing the body is one error, not 8,680 (server/schemas.py's RequestBody); what "
        "remains is FastAPI reading it: py-spy of the server under this load (2026-12-06) has"
        " 42% of its samples in the stdlib json.loads FastAPI 0.165 calls on each body (1.3 "
        "ms for these 8,680 keys, in-process). Runs of the same load (one server, wrk and "
        "hey): with FPX_MAX_BODY_SIZE=1000, the body refused by its Content-Length and never "
        "parsed, /predict's p99 was 2.8 x idle; with a 64 KiB body of one string, cheap to "
        "parse, 5.3 x; with the 8,680 keys, 11 x. A task sleeping 5 ms in the server woke "
        "only 13 to 19 times a second (50 to 100 ms late) under this load, and a probe "
        "client's /predict requests, one at a time on a connection of their own, waited up to"
        " 1.5 s: some requests wait many turns of the loop, so p99 grows faster than the "
        "share of CPU. The tail is not fpx's alone: a plain FastAPI app (three routes) with "
        "the same body model, sent a 64 KiB body of one string by the same 8 clients, had its"
        " /predict p99 at 7.7 x idle (one run). A valid POST /tasks body can be as large as "
        "the limit (predict_batch's inputs), so no lower limit for the route is honest; "
        "pydantic_core.from_json parses this body in 0.8 to 1.0 ms, but only by replacing "
        "FastAPI's parsing of every body, with other answers for lone surrogates, UTF-16 and "
        "deep nesting. More workers (FPX_WORKERS), a smaller FPX_MAX_BODY_SIZE where no large"
        " body is expected, or a reverse proxy limiting each client's rate would close it."
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
