"""PostgreSQL failing under real servers: unreachable at start-up, its connections killed
(pg_terminate_backend), the server restarted. Start-up fails clearly and in bounded time;
while the database is away every request that needs it is a 503 with Retry-After, never a
500; the pool and the LISTEN connection come back by themselves; running jobs keep running and
their outcomes are recorded; nothing accepted is lost. The password is never shown."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from server.dburl import redact
from tests import postgres
from tests.helpers import wait_until
from tests.live import ServerProcess, free_port
from tests.server.test_postgres import SECRET, with_password

# Uvicorn's exit code for a start-up that failed in the lifespan.
STARTUP_FAILED = 3
FAST = {
    "FPX_HEARTBEAT_INTERVAL": "0.2",
    "FPX_LEASE_TIMEOUT": "2",
    "FPX_SHUTDOWN_TIMEOUT": "1",
    "FPX_DB_BUSY_TIMEOUT": "2",
    "FPX_JOBS": "tick=tests.server.sample_jobs:tick",
    "FPX_METRICS": "false",
}


def tick(steps: int, delay: float = 0.05) -> dict:
    return {"job": "tick", "args": {"steps": steps, "delay": delay}}


def submit(server: ServerProcess, body: dict) -> str:
    r = httpx.post(server.url + "/tasks", json=body, timeout=10)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def task(server: ServerProcess, task_id: str) -> dict:
    r = httpx.get(f"{server.url}/tasks/{task_id}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def answers_503_or_200(server: ServerProcess, method: str, path: str, body=None) -> int:
    """A request while the database may be away: 200s or 503 with Retry-After, nothing else,
    and an answer within the client's deadline (the database calls are bounded by 2 s)."""
    r = httpx.request(method, server.url + path, json=body, timeout=10)
    assert r.status_code in (200, 201, 202, 503), (r.status_code, r.text)
    if r.status_code == 503:
        assert r.headers["retry-after"] == "1" and r.json()["detail"], r.text
        assert SECRET not in r.text
    return r.status_code


@pytest.mark.parametrize("what", ["no such database", "nothing listening", "unknown host"])
def test_unreachable_postgres_fails_start_up_naming_it_and_why(tmp_path, postgres_url, what):
    url = with_password(postgres_url)
    if what == "no such database":
        url, reason = postgres.with_database(url, "fpx_nope"), 'database "fpx_nope" does not exist'
    elif what == "nothing listening":
        url, reason = url.replace(":5432/", f":{free_port()}/"), "connection refused"
    else:
        url, reason = url.replace("127.0.0.1", "fpx-no-such-host.invalid"), "unknown host"
    server = ServerProcess(tmp_path, {**FAST, "FPX_DB": url}, wait_ready=False)
    with server:
        code = server.wait(timeout=30)  # bounded: FPX_DB_BUSY_TIMEOUT for each attempt
        log = server.log()
    assert code == STARTUP_FAILED, log
    assert f"cannot use PostgreSQL at {redact(url)}: {reason}" in log, log
    assert "fpx ready" not in log and SECRET not in log


def test_killed_connections_are_503_at_worst_and_come_back(tmp_path, postgres_url):
    url = with_password(postgres_url)
    with ServerProcess(tmp_path, {**FAST, "FPX_DB": url}) as server:
        running = submit(server, tick(40))  # 2 s
        wait_until(lambda: task(server, running)["status"] == "running", 10)
        killed = postgres.fetch(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'fpx'",
        )
        assert len(killed) >= 2  # the pool's and the LISTEN connection
        for path in ("/tasks/counts", "/users", "/items", f"/tasks/{running}", "/tasks"):
            answers_503_or_200(server, "GET", path)
        accepted = [
            r.json()["id"] for _ in range(5)
            if (r := httpx.post(server.url + "/tasks", json=tick(1), timeout=10)).status_code
            == 202
        ]
        wait_until(lambda: httpx.get(server.url + "/readyz").status_code == 200, 20)
        wait_until(lambda: "task notifications are back" in server.log(), 20,
                   what="LISTEN to reconnect")
        wait_until(lambda: task(server, running)["status"] == "succeeded", 20,
                   what="the running job's outcome")
        for task_id in accepted:
            wait_until(lambda t=task_id: task(server, t)["status"] == "succeeded", 20)
        assert SECRET not in server.log()


def _cluster() -> list[str] | None:
    """pg_ctlcluster's version and name of the local server, when this test may restart it."""
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or not versions:
        return None
    if "127.0.0.1:5432" not in postgres.SERVER_URL and "localhost:5432" not in postgres.SERVER_URL:
        return None
    return [versions[-1], "main"]


def _pg_ctl(action: str, cluster: list[str]) -> None:
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action, *extra],
        check=True, capture_output=True, timeout=60,
    )


def test_a_restart_of_postgres_loses_nothing_and_records_what_ran_meanwhile(
    tmp_path, postgres_url
):
    cluster = _cluster()
    if cluster is None:
        pytest.skip("restarting PostgreSQL needs root, pg_ctlcluster and the local server")
    url = with_password(postgres_url)
    env = {**FAST, "FPX_DB": url, "FPX_MAX_RUNNING": "1"}
    with ServerProcess(tmp_path, env) as server:
        running = submit(server, tick(30))  # 1.5 s: it ends while the database is down
        pending = [submit(server, tick(1)) for _ in range(3)]
        wait_until(lambda: task(server, running)["status"] == "running", 10)
        try:
            _pg_ctl("stop", cluster)
            ready = wait_until(
                lambda: (r := httpx.get(server.url + "/readyz")).status_code == 503 and r, 10,
                what="/readyz to say the database is away",
            )
            assert ready.json()["status"] == "unavailable" and SECRET not in ready.text
            assert ready.json()["detail"].startswith("database unavailable: "), ready.text
            for method, path, body in [
                ("GET", "/tasks/counts", None), ("GET", f"/tasks/{running}", None),
                ("GET", "/users/Rick", None), ("POST", "/items", {"name": "x"}),
                ("POST", "/tasks", tick(1)), ("POST", f"/tasks/{pending[0]}/cancel", None),
            ]:
                assert answers_503_or_200(server, method, path, body) == 503, path
            # The job ends meanwhile; its outcome waits for the database.
            wait_until(lambda: f"could not record that task {running}" in server.log(), 20,
                       what="the runner to retry recording the outcome")
        finally:
            _pg_ctl("start", cluster)
        wait_until(lambda: httpx.get(server.url + "/readyz").status_code == 200, 30,
                   what="ready again")
        done = wait_until(
            lambda: (t := task(server, running))["status"] == "succeeded" and t, 30,
            what="the outcome to be recorded",
        )
        assert done["result"] == {"steps": 30, "task": running}
        for task_id in pending:  # accepted before the restart: all run, none lost
            wait_until(lambda t=task_id: task(server, t)["status"] == "succeeded", 30)
        counts = httpx.get(server.url + "/tasks/counts").json()
        assert counts["succeeded"] == 4 and sum(counts.values()) == 4, counts
        log = server.log()
    assert SECRET not in log
    assert "task notifications are back" in log and "database reachable again" in log
