"""/metrics: Prometheus' text format, parsed with prometheus-client's own parser, moving with
real requests and tasks; behind the token; one count for all workers (issue 13)."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from server.app import create_app
from tests.helpers import wait_until
from tests.live import ServerProcess


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_of(scrape: dict, route: str, status: str, method: str = "GET") -> float:
    key = ("fpx_http_requests_total",
           (("method", method), ("route", route), ("status", status)))
    return scrape.get(key, 0.0)


def test_the_counters_move_with_requests_and_tasks(client):
    before = samples(client.get("/metrics").text)
    for x in range(3):
        assert client.get("/predict", params={"x": x}).status_code == 200
    assert client.get("/items/7").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    task = client.post("/tasks", json={"wait_time": 0}).json()
    wait_until(lambda: client.get(f"/tasks/{task['id']}").json()["status"] == "succeeded",
               timeout=10, what="the task to succeed")
    after = samples(client.get("/metrics").text)

    assert requests_of(after, "/predict", "200") - requests_of(before, "/predict", "200") == 3
    assert requests_of(after, "/items/{item_id}", "404") == 1  # the route template
    assert requests_of(after, "<unmatched>", "404") == 1  # never the path a client made up
    assert requests_of(after, "/tasks", "202", "POST") == 1
    latency = ("fpx_http_request_duration_seconds_count",
               (("method", "GET"), ("route", "/predict")))
    assert after[latency] - before.get(latency, 0) == 3
    predicted = ("fpx_model_predict_duration_seconds_count",
                 (("model", "answer_to_everything"),))
    assert after[predicted] - before.get(predicted, 0) == 3
    assert after[("fpx_tasks", (("job", "sleep"), ("status", "succeeded")))] == 1
    ran = ("fpx_job_duration_seconds_count", (("job", "sleep"), ("status", "succeeded")))
    assert after[ran] == 1
    assert after[("fpx_tasks_queued", ())] == 0
    assert ("fpx_model_load_seconds", (("model", "answer_to_everything"),)) in after
    assert any(name == "fpx_build_info" for name, _ in after)


def test_metrics_are_behind_the_token(settings):
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"api_token": SecretStr("s3cret")}))
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        r = c.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


def test_metrics_can_be_turned_off(settings):
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings.model_copy(update={"metrics": False}))) as c:
        assert c.get("/metrics").status_code == 404
        assert c.get("/predict", params={"x": 1}).status_code == 200


def test_with_two_workers_every_scrape_counts_both(tmp_path):
    env = {"FPX_WORKERS": "2", "FPX_LOG_LEVEL": "debug", "FPX_LOG_FORMAT": "json"}
    with ServerProcess(tmp_path, env) as server:
        for x in range(40):  # a new connection each: which worker answers is the kernel's pick
            assert httpx.get(server.url + "/predict", params={"x": x}).status_code == 200
        for _ in range(6):
            with httpx.Client() as fresh:
                scrape = samples(fresh.get(server.url + "/metrics").text)
            assert requests_of(scrape, "/predict", "200") == 40
    # Both workers answered some: a scrape of one worker alone would have counted fewer.
    answered_by = {
        line["process"] for line in map(json.loads, server.log().splitlines())
        if line["logger"] == "fpx.access" and line.get("route") == "/predict"
    }
    assert len(answered_by) == 2
