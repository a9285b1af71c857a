"""`fpx serve --workers 2` against one database: reads land on both, each task runs once."""

from __future__ import annotations

import collections
import signal

import httpx

from tests.helpers import wait_until


def test_two_workers_share_one_database_and_run_each_task_once(serve):
    server = serve("--workers", "2", extra_env={"FPX_LOG_LEVEL": "warning"})
    url = server.ready()["url"]

    # A new connection per request, so that the kernel spreads them over both workers.
    def fresh(method: str, path: str, **kw) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=10) as c:
            return c.request(method, path, **kw)

    ids = []
    for i in range(200):
        r = fresh("POST", "/tasks", json={"wait_time": i % 2})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    for _ in range(3):
        for task_id in ids:
            assert fresh("GET", f"/tasks/{task_id}").status_code == 200

    def succeeded() -> bool:
        return fresh("GET", "/tasks/counts").json()["succeeded"] == 200

    wait_until(succeeded, 60, what="all 200 tasks to run")
    tasks = [fresh("GET", f"/tasks/{t}").json() for t in ids]
    assert all(t["status"] == "succeeded" and t["attempts"] == 1 for t in tasks)
    ran_on = collections.Counter(t["worker"].split(":")[1] for t in tasks)
    assert len(ran_on) == 2, ran_on  # both workers ran tasks, each task exactly one run
    assert sum(ran_on.values()) == 200

    server.signal(signal.SIGINT)
    assert server.wait(30) == 0
