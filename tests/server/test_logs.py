"""FPX_LOG_FORMAT=json: every line a real server writes is one JSON object (issue 13)."""

from __future__ import annotations

import json
import signal

import httpx

from tests.helpers import wait_until
from tests.live import ServerProcess


def test_every_line_of_a_run_is_a_json_object(tmp_path):
    server = ServerProcess(tmp_path, {"FPX_LOG_FORMAT": "json", "FPX_LOG_LEVEL": "debug"})
    with server:
        assert httpx.get(server.url + "/predict", params={"x": 2}).status_code == 200
        assert httpx.get(server.url + "/items/7").status_code == 404
        task = httpx.post(server.url + "/tasks", json={"wait_time": 0}).json()
        wait_until(
            lambda: httpx.get(f"{server.url}/tasks/{task['id']}").json()["status"] == "succeeded",
            timeout=20, what="the task to succeed",
        )
        server.signal(signal.SIGTERM)
        server.wait(timeout=20)
    lines = [json.loads(line) for line in server.log().splitlines()]  # each one parses
    assert lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line

    requests = [line for line in lines if line["logger"] == "fpx.access"]
    by_route = {(r["method"], r["route"]): r for r in requests}
    predict = by_route[("GET", "/predict")]
    assert predict["status"] == 200 and predict["duration_ms"] >= 0
    assert len(predict["request_id"]) == 32
    assert by_route[("GET", "/items/{item_id}")]["status"] == 404  # the route, not the path

    # The task's own lines carry its id; so does the line of the request that submitted it.
    mentioning = [line for line in lines if task["id"] in line["message"]]
    assert mentioning and all(line.get("task_id") == task["id"] for line in mentioning
                              if line["logger"] == "fpx.tasks")
    assert by_route[("POST", "/tasks")]["status"] == 202
    assert {line["logger"] for line in lines} >= {"fpx.lifespan", "uvicorn.error", "fpx.access"}


def test_the_default_is_lines_for_people(tmp_path):
    with ServerProcess(tmp_path) as server:
        httpx.get(server.url + "/livez")
    first = server.log().splitlines()[0]
    assert not first.startswith("{") and " INFO    uvicorn.error: " in first
