"""Several fpx hosts on one PostgreSQL database: 3 servers (separate processes and ports)
share 1,000 tasks submitted round-robin, and one is SIGKILLed mid-run. Every task is
accounted for and none runs twice; the dead host's running tasks end interrupted once its
lease runs out, its pending ones are run by the others; a cancel through one host stops the
job on the host that runs it."""

from __future__ import annotations

import contextlib
import itertools

import httpx

from tests import postgres
from tests.helpers import wait_until
from tests.live import ServerProcess

TASKS = 1000
LEASE = 2.0
ENV = {
    "FPX_JOBS": "tick=tests.server.sample_jobs:tick",
    "FPX_MAX_RUNNING": "20",
    "FPX_HEARTBEAT_INTERVAL": "0.2",
    "FPX_LEASE_TIMEOUT": str(LEASE),
    "FPX_SHUTDOWN_TIMEOUT": "1",
    "FPX_DB_POOL_SIZE": "4",
    "FPX_METRICS": "false",
    "FPX_LOG_LEVEL": "info",
}
# A second each: 1,000 of them keep 3 hosts of 20 slots busy for over 15 s.
SHORT = {"job": "tick", "args": {"steps": 10, "delay": 0.1}}
LONG = {"job": "tick", "args": {"steps": 2000, "delay": 0.05}}  # 100 s: until cancelled


def pid_of(task: dict) -> int | None:
    """The pid of the process that ran a task (worker ids are host:pid:nonce)."""
    return int(task["worker"].split(":")[1]) if task["worker"] else None


def every_task(server: ServerProcess) -> list[dict]:
    r = httpx.get(server.url + "/tasks", params={"limit": TASKS}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_three_hosts_share_the_work_and_take_over_from_a_dead_one(tmp_path, postgres_url):
    env = {**ENV, "FPX_DB": postgres_url}
    with contextlib.ExitStack() as stack:
        hosts = [
            stack.enter_context(ServerProcess(tmp_path / name, env))
            for name in ("a", "b", "c")
        ]
        a, b, dead = hosts
        clients = [stack.enter_context(httpx.Client(base_url=h.url, timeout=30)) for h in hosts]
        through: dict[str, ServerProcess] = {}
        for host, client in zip(itertools.cycle(hosts), itertools.cycle(clients)):
            if len(through) == TASKS:
                break
            r = client.post("/tasks", json=SHORT)
            assert r.status_code == 202, r.text
            through[r.json()["id"]] = host

        # Kill one host while it runs tasks, with others still pending.
        def dead_is_busy() -> dict | None:
            counts = clients[0].get("/tasks/counts").json()
            running = [t for t in clients[0].get("/tasks", params={
                "status": "running", "limit": TASKS}).json() if pid_of(t) == dead.pid]
            return counts if running and counts["pending"] > 50 else None

        wait_until(dead_is_busy, 60, what="the host to kill to be running tasks")
        dead.proc.kill()  # SIGKILL: no shut-down, no lease given back
        dead.wait(10)
        pending_then = {t["id"] for t in clients[0].get("/tasks", params={
            "status": "pending", "limit": TASKS}).json()}

        # Its running tasks are interrupted once its lease runs out (a recovery pass every
        # 4 heartbeats): well before this deadline.
        wait_until(
            lambda: not [t for t in every_task(a) if t["status"] == "running"
                         and pid_of(t) == dead.pid],
            LEASE * 5 + 10, what="the dead host's running tasks to be interrupted",
        )
        wait_until(
            lambda: all(t["status"] not in ("pending", "running") for t in every_task(b)),
            120, what="every task to finish",
        )
        tasks = {t["id"]: t for t in every_task(a)}
        assert tasks.keys() == through.keys()  # every task accounted for
        assert all(t["attempts"] == 1 for t in tasks.values())  # none run twice
        interrupted = [t for t in tasks.values() if t["status"] == "interrupted"]
        assert interrupted and all(pid_of(t) == dead.pid for t in interrupted)
        assert "stopped before it finished" in interrupted[0]["error"]
        assert {t["status"] for t in tasks.values()} == {"succeeded", "interrupted"}
        # What was submitted through the dead host and still pending ran on the others.
        orphans = [i for i in pending_then if through[i] is dead]
        assert orphans
        assert all(tasks[i]["status"] == "succeeded" for i in orphans)
        assert {pid_of(tasks[i]) for i in orphans} <= {a.pid, b.pid}
        # The work was shared: each host ran some of it.
        ran_on = {pid_of(t) for t in tasks.values()}
        assert {a.pid, b.pid, dead.pid} <= ran_on
        # Each live host holds at most FPX_DB_POOL_SIZE connections, and one that LISTENs.
        [(connections,)] = postgres.fetch(
            postgres_url, "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'fpx'",
        )
        assert 2 <= connections <= 2 * (int(ENV["FPX_DB_POOL_SIZE"]) + 1)

        # A cancel through one host stops the job on the host that runs it.
        task_id = clients[1].post("/tasks", json=LONG).json()["id"]
        owner_pid = wait_until(
            lambda: (t := clients[0].get(f"/tasks/{task_id}").json())["status"] == "running"
            and pid_of(t), 10,
        )
        owner = a if owner_pid == a.pid else b
        other = clients[1] if owner is a else clients[0]
        r = other.post(f"/tasks/{task_id}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        wait_until(lambda: f"task {task_id} was cancelled; stopping its job" in owner.log(), 10,
                   what="the owner to stop the job")
