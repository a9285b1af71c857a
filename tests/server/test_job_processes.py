"""Plain `def` jobs in job processes: results, progress, cancels, deaths, limits, no leftovers."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests.helpers import wait_until
from tests.live import ServerProcess
from tests.server.test_api import finished

SAMPLE = "tests.server.sample_jobs"
PROCESS_JOBS = ("count", "spin", "explode", "die", "stubborn", "polite", "pid", "not_json")
JOBS = ",".join(f"{name}={SAMPLE}:{name}" for name in (*PROCESS_JOBS, "tick"))
GRACE = 0.5


@pytest.fixture
def client(settings: Settings):
    settings.jobs = JOBS
    settings.job_processes = 1
    settings.cancel_grace = GRACE
    with TestClient(create_app(settings)) as client:
        yield client


def submit(client: TestClient, job: str, **body) -> str:
    r = client.post("/tasks", json={"job": job, **body})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def get(client: TestClient, task_id: str) -> dict:
    return client.get(f"/tasks/{task_id}").json()


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def children(pid: int) -> set[int]:
    """The pids whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def job_pid(client: TestClient) -> int:
    return finished(client, submit(client, "pid", args={}))["result"]


def test_a_cpu_bound_job_runs_in_another_process_and_reports_progress(client):
    assert job_pid(client) != os.getpid()
    task_id = submit(client, "count", args={"n": 30_000_000, "every": 100_000})

    def partial():
        task = get(client, task_id)
        return task if task["status"] == "running" and 0 < task["progress"] < 1 else None

    running = wait_until(partial, 30, what="progress below 1")
    assert running["message"].endswith(" of 30000000")
    done = finished(client, task_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"] == 30_000_000 * 30_000_001 // 2
    assert done["progress"] == 1.0 and done["message"] == "30000000 of 30000000"


def test_a_job_that_raises_fails_with_its_error_and_the_traceback_is_logged(client, caplog):
    caplog.set_level(logging.ERROR, "fpx.jobs")
    done = finished(client, submit(client, "explode", args={"reason": "no model"}))
    assert done["status"] == "failed" and done["error"] == "ValueError: no model"
    assert "Traceback" in caplog.text and "sample_jobs.py" in caplog.text


def test_a_result_json_cannot_hold_fails_saying_so(client):
    done = finished(client, submit(client, "not_json", args={}))
    assert done["status"] == "failed"
    assert done["error"].startswith("the job's result is not JSON-encodable: ")


@pytest.mark.parametrize(("how", "died"), [("exit", "exit code 3"), ("kill", "signal 9")])
def test_a_dead_job_process_fails_its_task_and_is_replaced(client, how, died):
    before = job_pid(client)
    done = finished(client, submit(client, "die", args={"how": how}))
    assert done["status"] == "failed" and done["error"] == f"job process died ({died})"
    assert not alive(before)
    assert client.get("/readyz").status_code == 200
    assert job_pid(client) not in (before, os.getpid())  # a new process took its place


def test_a_cancelled_job_sees_it_and_its_process_stays(client, tmp_path):
    marker = tmp_path / "pid"
    task_id = submit(client, "polite", args={"marker": str(marker)})
    pid = int(wait_until(lambda: marker.exists() and marker.read_text(), what="the job"))
    assert client.post(f"/tasks/{task_id}/cancel").json()["status"] == "cancelled"
    # The job returned on its own: the same process runs the next one.
    assert job_pid(client) == pid
    assert get(client, task_id)["status"] == "cancelled"


def test_a_job_that_ignores_its_cancel_is_terminated_after_the_grace(client, tmp_path):
    marker = tmp_path / "pid"
    task_id = submit(client, "stubborn", args={"marker": str(marker)})
    pid = int(wait_until(lambda: marker.exists() and marker.read_text(), what="the job"))
    assert client.post(f"/tasks/{task_id}/cancel").json()["status"] == "cancelled"
    wait_until(lambda: not alive(pid), 10, what="the process to be terminated")
    assert get(client, task_id)["status"] == "cancelled"
    assert job_pid(client) != pid


def test_a_process_job_past_its_time_limit_fails_and_is_stopped(client, tmp_path):
    marker = tmp_path / "pid"
    task_id = submit(client, "stubborn", args={"marker": str(marker)}, time_limit=1)
    done = finished(client, task_id)
    assert done["status"] == "failed" and done["error"] == "time limit of 1 s exceeded"
    assert done["progress"] == 0.5 and done["message"] == "not stopping"
    wait_until(lambda: not alive(int(marker.read_text())), 10, what="the process to stop")


def test_a_process_job_waits_pending_while_every_process_is_busy(client, tmp_path):
    marker = tmp_path / "pid"
    busy = submit(client, "polite", args={"marker": str(marker)})
    wait_until(lambda: marker.exists(), what="the one process to be busy")
    waiting = submit(client, "pid", args={})
    # An async job submitted after it runs at once: the runner claimed past the process job.
    assert finished(client, submit(client, "tick", args={"steps": 1}))["status"] == "succeeded"
    assert get(client, waiting)["status"] == "pending"
    client.post(f"/tasks/{busy}/cancel")
    assert finished(client, waiting)["status"] == "succeeded"


def test_a_job_process_is_replaced_while_the_server_serves(client):
    # Two deaths in a row: each replacement is itself replaced.
    for _ in range(2):
        finished(client, submit(client, "die", args={"how": "kill"}))
    assert client.get("/readyz").status_code == 200
    assert finished(client, submit(client, "spin", args={"seconds": 0.01}))["result"] == 0.01


# -- real servers: no job process outlives one ---------------------------------------------------


def server_env(processes: int = 2) -> dict[str, str]:
    return {"FPX_JOBS": JOBS, "FPX_JOB_PROCESSES": str(processes), "FPX_SHUTDOWN_TIMEOUT": "0.5",
            "FPX_LOG_LEVEL": "info"}


def start_stubborn(server: ServerProcess, marker: Path) -> int:
    r = httpx.post(server.url + "/tasks", json={"job": "stubborn", "args": {"marker": str(marker)}})
    assert r.status_code == 202
    return int(wait_until(lambda: marker.exists() and marker.read_text(), 20, what="the job"))


def test_a_stopped_server_leaves_no_job_process(tmp_path):
    with ServerProcess(tmp_path, server_env()) as server:
        running = start_stubborn(server, tmp_path / "pid")
        spawned = children(server.pid)
        jobs = {pid for pid in spawned if "spawn_main" in cmdline(pid)}
        # The server alone, not its process group: it must stop its job processes itself.
        os.kill(server.pid, signal.SIGTERM)
        assert server.wait(timeout=30) == -signal.SIGTERM  # as uvicorn ends a clean stop
        assert "fpx stopped" in server.log()
    assert running in jobs and len(jobs) == 2
    leftovers = {pid for pid in jobs if alive(pid)}
    assert not leftovers, f"job processes left behind: {leftovers}"
    # multiprocessing's resource tracker ends once the server's end of its pipe closes.
    wait_until(lambda: not any(alive(pid) for pid in spawned), 10, what="every child to end")


def test_a_sigkilled_server_leaves_no_job_process(tmp_path):
    with ServerProcess(tmp_path, server_env()) as server:
        running = start_stubborn(server, tmp_path / "pid")
        spawned = children(server.pid)
        assert running in spawned
        os.kill(server.pid, signal.SIGKILL)  # the server alone, not its process group
        server.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in spawned), 10,
                   what="the job processes to die with the server")


def test_a_process_job_is_stopped_by_a_cancel_through_another_worker(settings, tmp_path):
    # Two workers on one database: the job runs in a process of A's; the cancel goes to B.
    settings.jobs = JOBS
    settings.job_processes = 1
    settings.cancel_grace = GRACE
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        marker = tmp_path / "pid"
        task_id = submit(a, "stubborn", args={"marker": str(marker)})
        pid = int(wait_until(lambda: marker.exists() and marker.read_text(), what="the job"))
        assert get(b, task_id)["worker"] == get(a, task_id)["worker"]  # one task, seen by both
        assert b.post(f"/tasks/{task_id}/cancel").json()["status"] == "cancelled"
        # A's heartbeat sees the cancel, tells the job; it ignores it and is terminated.
        wait_until(lambda: not alive(pid), 15, what="A to stop the job B cancelled")
        assert get(a, task_id)["status"] == "cancelled"
        assert get(b, task_id)["status"] == "cancelled"
