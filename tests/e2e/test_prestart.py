"""`fpx serve` starts its server before it has parsed its options (cli/prestart.py)."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import processes_in, run


def test_the_server_started_early_runs_with_the_options_given(serve, workdir):
    fpx = serve("--max-wait", "7", "--log-level", "warning")
    ready = fpx.ready()
    cmdline = Path(f"/proc/{ready['pid']}/cmdline").read_bytes().split(b"\0")
    assert b"--settings-stdin" in cmdline  # the one fpx started before parsing
    assert ready["db"] == str(workdir / "fpx.db") and (workdir / "fpx.db").exists()
    tasks = ready["url"] + "/tasks"
    assert httpx.post(tasks, json={"wait_time": 8}).status_code == 422  # --max-wait 7
    assert httpx.post(tasks, json={"wait_time": 0}).status_code == 202
    fpx.signal(signal.SIGINT)
    assert fpx.wait() == 0


def _ignored_signals(pid: int) -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1],
               16)
    return {sig for sig in range(1, 65) if mask & (1 << (sig - 1))}


def test_the_server_started_early_does_not_inherit_ignored_signals(serve):
    # As under `nohup fpx serve`: fpx is started with SIGHUP ignored. A server it spawns after
    # it installed its own handlers would not ignore it; nor does the one it started early.
    fpx = serve(preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    ready = fpx.ready()
    assert signal.SIGHUP not in _ignored_signals(ready["pid"])
    fpx.signal(signal.SIGINT)
    assert fpx.wait() == 0


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--port", "nine"], 2, "'nine' is not an integer"),
    (["--model", "no-loader"], 2, "--model 'no-loader' is not of the form NAME=module:attr"),
    (["--port", "HELD"], 1, "is already in use"),
], ids=["bad port", "bad model", "port in use"])
def test_a_serve_that_stops_before_starting_leaves_no_server(workdir, env, held_port, args,
                                                             code, says):
    args = [str(held_port) if a == "HELD" else a for a in args]
    result = run(workdir, env, "serve", "--db", "fpx.db", *args)
    assert (result.returncode, result.stdout) == (code, "")
    assert says in result.stderr and "Traceback" not in result.stderr
    # The server it had started early was killed and reaped before fpx exited.
    assert processes_in(workdir) == []
    assert not (workdir / "fpx.db").exists()
