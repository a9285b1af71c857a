"""Wall time of one-shot commands: `fpx predict 3.5` against the HTTP clients people use
instead, and `fpx --help` against a two-command Typer app. The commands of a figure run in
turn, round after round (ABAB...), after one warm-up run each."""

from __future__ import annotations

import shutil
import statistics
import sys

from bench import tools
from bench.context import Context
from bench.procs import ROOT, time_command
from bench.report import Row, Target


def _alternate(ctx: Context, commands: dict[str, list[str]]) -> dict[str, list[float]]:
    """Milliseconds of each run of each command, the commands taking turns."""
    for argv in commands.values():
        time_command(argv, ctx.env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ctx.config.cli_rounds):
        for name, argv in commands.items():
            samples[name].append(time_command(argv, ctx.env) * 1000)
    return samples


def predict_wall_time(ctx: Context) -> list[Row]:
    with ctx.fpx_server("cli-server") as server:
        server.wait_until_answers("/readyz")
        commands = {
            "fpx": [str(ctx.bin / "fpx"), "predict", "3.5", "--url", server.url],
            "pass": [sys.executable, "-c", "pass"],
        }
        http = tools.httpie(ctx.say)
        if http:
            commands["httpie"] = [http, "--ignore-stdin", f"{server.url}/predict", "x==3.5"]
        if shutil.which("curl"):
            commands["curl"] = ["curl", "-sf", f"{server.url}/predict?x=3.5"]
        samples = _alternate(ctx, commands)

    def row(baseline: str, name: str, target: Target | None) -> Row:
        r = Row("`fpx predict 3.5` wall time", baseline, "ms", target)
        if name in samples:
            r.fpx_samples, r.baseline_samples = samples["fpx"], samples[name]
        else:
            r.skipped = f"{baseline} is not installed"
        return r

    httpie, curl = (
        row("HTTPie `http`, same request", "httpie", Target("<=", 0.8)),
        row("curl, same request", "curl", None),
    )
    curl.note = (
        "the curl row has no target: a C client is the limit of any command started in "
        f"Python. `python -c pass` took {statistics.median(samples['pass']):.1f} ms in the "
        "same rounds (the interpreter's own start-up)."
    )
    return [httpie, curl]


def help_wall_time(ctx: Context) -> list[Row]:
    samples = _alternate(ctx, {
        "fpx": [str(ctx.bin / "fpx"), "--help"],
        "typer": [sys.executable, str(ROOT / "bench" / "two_command_typer.py"), "--help"],
    })
    row = Row(
        "`fpx --help` wall time", "two-command Typer app `--help`",
        "ms", Target("<=", 1.15),
    )
    row.fpx_samples, row.baseline_samples = samples["fpx"], samples["typer"]
    return [row]

