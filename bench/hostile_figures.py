"""A figure of a server under hostile bodies: /predict p99 while 8 clients send POST /tasks the
costliest body the size limit lets through, against the same server idle.

The body is the worst found: as many distinct short keys as 64 KiB holds (8,680), each of
which pydantic would report as an unknown field. Refusing it costs a JSON parse (stdlib json,
as FastAPI reads a body) and one error (server/schemas.py's RequestBody).
"""

from __future__ import annotations

import itertools
import re
import string
import threading

from bench import load
from bench.context import Context
from bench.procs import BenchError, run_tool
from bench.report import Row, Target

CLIENTS = 8
PREDICT = "/predict?x=3.5"
DEFAULT_LIMIT = 64 * 1024  # FPX_MAX_BODY_SIZE's default
_ALPHABET = string.ascii_letters + string.digits


def _key(n: int) -> str:
    digits = ""
    while True:
        n, d = divmod(n, len(_ALPHABET))
        digits = _ALPHABET[d] + digits
        if n == 0:
            return digits


def hostile_body(limit: int = DEFAULT_LIMIT) -> bytes:
    """A JSON object of as many distinct short keys (`"a":0`, `"b":0`, ...) as `limit` holds."""
    parts: list[str] = []
    size = 2  # the braces
    for n in itertools.count():
        part = f'"{_key(n)}":0'
        if size + len(part) + 1 > limit:
            break
        parts.append(part)
        size += len(part) + 1
    return ("{" + ",".join(parts) + "}").encode()


def predict_while_hostile(ctx: Context) -> list[Row]:
    c = ctx.config
    if ctx.load_tool is None:
        raise BenchError("neither wrk nor hey is installed")
    body = ctx.workdir / "hostile.json"
    body.write_bytes(hostile_body())
    p99 = Row(
        f"`/predict` p99 while {CLIENTS} clients send a hostile 64 KiB body",
        "the same server idle", "ms", Target("<=", 3.0),
    )
    refused = {"hostile": 0, "other": 0}
    with ctx.fpx_server("hostile-fpx") as hostile, ctx.fpx_server("hostile-idle") as idle:
        hostile.wait_until_answers("/readyz")
        idle.wait_until_answers("/readyz")
        argv = [
            "hey", "-z", f"{c.load_seconds + 2 * c.warmup_seconds:g}s", "-c", str(CLIENTS),
            "-m", "POST", "-T", "application/json", "-D", str(body), hostile.url + "/tasks",
        ]
        for _ in range(c.load_rounds):
            # The hostile clients start first and outlast the timed run on either side.
            attack = _Background(argv, timeout=c.load_seconds + 60)
            attack.start()
            load.timed_get(ctx.load_tool, hostile.url + PREDICT, 50, c.warmup_seconds)
            under = load.timed_get(ctx.load_tool, hostile.url + PREDICT, 50, c.load_seconds)
            text = attack.result()
            calm = load.timed_get(ctx.load_tool, idle.url + PREDICT, 50, c.load_seconds)
            for status, count in _statuses(text):
                refused["hostile" if status == "422" else "other"] += count
            if under.p99_ms is not None and calm.p99_ms is not None:
                p99.fpx_samples.append(under.p99_ms)
                p99.baseline_samples.append(calm.p99_ms)
    p99.note = (
        f"{ctx.load_tool} with 50 connections on `GET {PREDICT}`, {c.load_rounds} runs of "
        f"{c.load_seconds:g} s per side, while hey keeps {CLIENTS} connections sending POST "
        f"/tasks a body of {hostile_body().count(b':'):,} unknown keys ({refused['hostile']:,} "
        "refused with 422"
        + (f", {refused['other']:,} other answers" if refused["other"] else "")
        + "). Refusing one costs about one stdlib JSON parse of 64 KiB."
    )
    return [p99]


def _statuses(hey_output: str) -> list[tuple[str, int]]:
    return [(s, int(n)) for s, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", hey_output)]


class _Background(threading.Thread):
    """A load tool run alongside the timed one."""

    def __init__(self, argv: list[str], timeout: float) -> None:
        super().__init__(daemon=True)
        self.argv, self.timeout = argv, timeout
        self.output = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.output = run_tool(self.argv, self.timeout)
        except BaseException as exc:  # reported by result(), in the caller's thread
            self.error = exc

    def result(self) -> str:
        self.join()
        if self.error is not None:
            raise BenchError(f"the hostile clients failed: {self.error}")
        return self.output
