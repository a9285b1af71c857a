"""Every server fpx starts is recorded: other commands find a foreground one too, and of
several detached starts at once exactly one wins."""

from __future__ import annotations

import json
import signal
import subprocess

from tests.e2e.conftest import FPX, processes_in, records, run
from tests.live import free_port


def test_a_foreground_server_is_found_by_other_commands_until_it_stops(serve, workdir, env):
    fpx = serve("--port", str(free_port()))
    ready = fpx.ready()
    [record] = records(workdir)
    assert (record["url"], record["pid"], record["detached"]) == (
        ready["url"], ready["pid"], False
    )

    # No --url, no FPX_URL: the record says where the server is.
    predicted = run(workdir, env, "predict", "3.5")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["result"] == 147.0
    status = run(workdir, env, "status")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert (shown["url"], shown["ready"], shown["detached"]) == (ready["url"], True, False)

    # fpx stop is for the detached server: it says where this one is stopped instead.
    stop = run(workdir, env, "stop")
    assert stop.returncode == 3
    assert "runs in the foreground of the terminal that started it" in stop.stderr

    fpx.signal(signal.SIGINT)
    assert fpx.wait() == 0
    assert records(workdir) == []


def test_of_five_detached_starts_at_once_one_wins_and_the_others_start_nothing(workdir, env):
    ports = [free_port() for _ in range(5)]
    starts = [
        subprocess.Popen(
            [*FPX, "serve", "--detach", "--port", str(port), "--db", str(workdir / "fpx.db")],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for port in ports
    ]
    try:
        outcomes = [(p.wait(60), *p.communicate()) for p in starts]
    finally:
        for p in starts:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    won = [out for code, out, _ in outcomes if code == 0]
    lost = [err for code, _, err in outcomes if code != 0]
    assert len(won) == 1 and len(lost) == 4, outcomes
    for err in lost:
        assert err.startswith("error: an fpx server ") and "detached at" in err, err
        assert "Traceback" not in err
    [record] = records(workdir)
    assert record["pid"] == json.loads(won[0])["pid"] and record["starting"] is False
    assert run(workdir, env, "stop").returncode == 0
    assert processes_in(workdir) == []
    assert records(workdir) == []
