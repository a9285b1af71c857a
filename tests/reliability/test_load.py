"""Load: bounded traffic on loopback, every answer checked afterwards. (Several workers:
tests/e2e/test_workers.py, through `fpx serve --workers 2`.)"""

from __future__ import annotations

import asyncio
import collections
import random

import httpx

from tests.helpers import wait_until
from tests.live import ServerProcess

CLIENTS = 64
REQUESTS = 5000


def counts(url: str) -> dict[str, int]:
    return httpx.get(url + "/tasks/counts").json()


async def _mixed_load(url: str) -> dict:
    rng = random.Random(7)
    stats = collections.Counter()
    created_items: list[dict] = []
    created_tasks: list[str] = []
    semaphore = asyncio.Semaphore(CLIENTS)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            kind = rng.choice(["predict", "users", "items", "tasks"])
            async with semaphore:
                try:
                    if kind == "predict":
                        r = await client.get("/predict", params={"x": i})
                        assert r.json()["result"] == i * 42
                    elif kind == "users":
                        r = await client.get(rng.choice(["/users", "/users/Rick", "/users/me"]))
                    elif kind == "items":
                        r = await client.post("/items", json={"name": f"item {i}"})
                        created_items.append(r.json())
                    else:
                        r = await client.post("/tasks", json={"wait_time": 0})
                        created_tasks.append(r.json()["id"])
                except httpx.TransportError:
                    stats["transport errors"] += 1
                    return
            stats[f"{r.status_code // 100}xx"] += 1

        await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    return {"stats": stats, "items": created_items, "tasks": created_tasks}


def test_64_clients_5000_mixed_requests_no_errors_nothing_lost(tmp_path):
    with ServerProcess(tmp_path, {"FPX_LOG_LEVEL": "warning"}) as server:
        result = asyncio.run(_mixed_load(server.url))
        stats = result["stats"]
        assert stats["transport errors"] == 0 and stats["5xx"] == 0, stats
        assert stats["2xx"] == REQUESTS, stats
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for item in result["items"]:
                assert c.get(f"/items/{item['id']}").json() == item
            wait_until(
                lambda: counts(server.url)["succeeded"] == len(result["tasks"]), 30,
                what="every submitted task to succeed",
            )
            for task_id in result["tasks"]:
                assert c.get(f"/tasks/{task_id}").json()["status"] == "succeeded"
    print(f"load: {REQUESTS} requests from {CLIENTS} clients: {dict(stats)}")


def test_back_pressure_is_503_with_retry_after_and_the_rest_keeps_working(tmp_path):
    env = {"FPX_MAX_QUEUED": "5", "FPX_MAX_RUNNING": "2", "FPX_SHUTDOWN_TIMEOUT": "0.2"}
    with ServerProcess(tmp_path, env) as server, httpx.Client(base_url=server.url) as c:
        accepted = [c.post("/tasks", json={"wait_time": 3600}) for _ in range(5)]
        assert all(r.status_code == 202 for r in accepted)
        for _ in range(3):
            r = c.post("/tasks", json={"wait_time": 0})
            assert r.status_code == 503
            assert int(r.headers["retry-after"]) >= 1
            assert "5 tasks are unfinished" in r.json()["detail"]
        assert c.get("/predict", params={"x": 2}).json()["result"] == 84
        assert c.post("/items", json={"name": "still fine"}).status_code == 201
        assert c.get(f"/tasks/{accepted[0].json()['id']}").status_code == 200
        # Room again once one is cancelled.
        c.post(f"/tasks/{accepted[0].json()['id']}/cancel")
        assert c.post("/tasks", json={"wait_time": 0}).status_code == 202
