"""Every row of the API contract, with each error status, through the real lifespan, on
each backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.helpers import wait_until


@pytest.fixture
def settings(any_settings):
    return any_settings


def finished(client: TestClient, task_id: str, timeout: float = 10.0) -> dict:
    def probe():
        task = client.get(f"/tasks/{task_id}").json()
        return task if task["status"] not in ("pending", "running") else None

    return wait_until(probe, timeout, what=f"task {task_id} to finish")


# -- health and models -------------------------------------------------------------------------


def test_livez(client):
    r = client.get("/livez")
    assert r.status_code == 200
    assert r.json() == {"status": "alive"}


def test_readyz_lists_models_once_started(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "models": ["answer_to_everything"]}


def test_readyz_is_503_before_start_up(settings):
    # Without entering the client, the lifespan has not run: the app is still starting.
    client = TestClient(create_app(settings))
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "starting"}


def test_models_lists_the_builtin_with_its_load_time(client):
    [model] = client.get("/models").json()
    assert model["name"] == "answer_to_everything"
    assert model["load_ms"] >= 0
    assert model["loaded_at"].endswith("Z")


# -- predict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "result"), [("3.5", 147.0), ("-2.5", -105.0), ("0", 0.0)])
def test_predict_builtin(client, x, result):
    r = client.get("/predict", params={"x": x})
    assert r.status_code == 200
    assert r.json() == {"model": "answer_to_everything", "x": float(x), "result": result}


@pytest.mark.parametrize("x", ["inf", "-inf", "nan", "1e999", "abc", ""])
def test_predict_refuses_what_is_not_a_finite_number(client, x):
    r = client.get("/predict", params={"x": x})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "x"]


def test_predict_without_x_is_422(client):
    r = client.get("/predict")
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "missing"


def test_predict_with_a_non_finite_result_is_422_not_500(client):
    r = client.get("/predict", params={"x": "1e308"})
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["loc"] == ["query", "x"] and "non-finite result" in error["msg"]


def test_predict_unknown_model_is_404(client):
    r = client.get("/predict", params={"x": 1, "model": "nope"})
    assert r.status_code == 404
    assert r.json() == {"detail": "model 'nope' not found"}


# -- users ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/users", "/users/"])
def test_users_are_seeded(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.json() == [{"username": "Rick"}, {"username": "Morty"}]


def test_users_me_is_the_default_user(client):
    assert client.get("/users/me").json() == {"username": "fakecurrentuser"}


def test_users_me_follows_the_setting(settings):
    settings.default_user = "summer"
    with TestClient(create_app(settings)) as client:
        assert client.get("/users/me").json() == {"username": "summer"}


def test_get_user(client):
    assert client.get("/users/Rick").json() == {"username": "Rick"}


def test_unknown_user_is_404_with_detail(client):
    r = client.get("/users/Jerry")
    assert r.status_code == 404
    assert r.json() == {"detail": "user 'Jerry' not found"}


@pytest.mark.parametrize(
    "name", ["a" * 65, "bad name", "semi;colon", "a..b", "%2E%2E", "é", "a%2Fb"]
)
def test_malformed_username_is_422(client, name):
    r = client.get(f"/users/{name}")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["path", "username"]


def test_a_username_with_a_control_character_names_no_user(client):
    # A path with one names no resource at all (tests/reliability/test_bad_input.py).
    assert client.get("/users/%00x").status_code == 404


# -- items ---------------------------------------------------------------------------------------


def test_item_lifecycle(client):
    r = client.post("/items", json={"name": "portal gun", "description": "green"})
    assert r.status_code == 201
    item = r.json()
    assert item["name"] == "portal gun" and item["description"] == "green"
    assert isinstance(item["id"], int)
    assert r.headers["location"] == f"/items/{item['id']}"

    assert client.get(r.headers["location"]).json() == item
    assert item in client.get("/items").json()

    assert client.delete(f"/items/{item['id']}").status_code == 204
    r = client.get(f"/items/{item['id']}")
    assert r.status_code == 404
    assert r.json() == {"detail": f"item {item['id']} not found"}
    assert client.delete(f"/items/{item['id']}").status_code == 404


def test_item_description_is_optional(client):
    r = client.post("/items", json={"name": "plumbus"})
    assert r.status_code == 201
    assert r.json()["description"] is None


def test_unknown_item_is_404_as_in_the_tutorial(client):
    r = client.get("/items/7")
    assert r.status_code == 404
    assert r.json() == {"detail": "item 7 not found"}


def test_items_pagination(client):
    ids = [client.post("/items", json={"name": f"n{i}"}).json()["id"] for i in range(5)]
    page = client.get("/items", params={"limit": 2, "offset": 1}).json()
    assert [i["id"] for i in page] == ids[1:3]
    assert len(client.get("/items").json()) == 5


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"offset": -1}, {"offset": "y"}],
)
def test_items_pagination_out_of_range_is_422(client, params):
    assert client.get("/items", params=params).status_code == 422


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}, {"name": "x", "extra": 1}, []])
def test_bad_item_body_is_422_and_stores_nothing(client, body):
    assert client.post("/items", json=body).status_code == 422
    assert client.get("/items").json() == []


@pytest.mark.parametrize("item_id", ["0", "-1", "abc", "1.5", str(2**63)])
def test_malformed_item_id_is_422(client, item_id):
    assert client.get(f"/items/{item_id}").status_code == 422
    assert client.delete(f"/items/{item_id}").status_code == 422


# -- tasks ---------------------------------------------------------------------------------------


def test_submit_answers_202_with_id_and_location(client):
    r = client.post("/tasks", json={"wait_time": 0})
    assert r.status_code == 202
    task = r.json()
    assert task["status"] == "pending"
    assert task["wait_time"] == 0
    uuid.UUID(task["id"])
    assert r.headers["location"] == f"/tasks/{task['id']}"


def test_task_runs_to_succeeded_with_result_and_full_progress(client):
    task_id = client.post("/tasks", json={"wait_time": 1}).json()["id"]
    task = finished(client, task_id)
    assert task["status"] == "succeeded"
    assert task["result"] == "task done after 1"
    assert task["progress"] == 1.0
    assert task["error"] is None
    assert task["created_at"] <= task["started_at"] <= task["finished_at"]
    assert set(task) >= {
        "id", "status", "wait_time", "created_at", "started_at", "finished_at", "progress",
        "result", "error",
    }


def test_running_task_reports_partial_progress(client):
    task_id = client.post("/tasks", json={"wait_time": 30}).json()["id"]

    def partial():
        task = client.get(f"/tasks/{task_id}").json()
        return task if task["status"] == "running" and 0 < task["progress"] < 1 else None

    task = wait_until(partial, 5, what="progress above 0")
    assert task["result"] is None
    client.post(f"/tasks/{task_id}/cancel")


def test_client_chosen_id_and_duplicate_is_409(client):
    task_id = str(uuid.uuid4())
    r = client.post("/tasks", json={"wait_time": 0, "id": task_id})
    assert r.status_code == 202 and r.json()["id"] == task_id
    r = client.post("/tasks", json={"wait_time": 0, "id": task_id})
    assert r.status_code == 409
    assert task_id in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"wait_time": -5},
        {"wait_time": 3601},
        {"wait_time": 1.5},
        {"wait_time": "5"},
        {"wait_time": True},
        {"wait_time": None},
        {},
        {"wait_time": 1, "id": "not-a-uuid"},
    ],
)
def test_bad_task_body_is_422_and_stores_nothing(client, body):
    r = client.post("/tasks", json=body)
    assert r.status_code == 422, r.text
    assert client.get("/tasks").json() == []


def test_max_wait_follows_the_setting(settings):
    settings.max_wait = 10
    with TestClient(create_app(settings)) as client:
        r = client.post("/tasks", json={"wait_time": 11})
        assert r.status_code == 422
        assert "less than or equal to 10" in r.json()["detail"][0]["msg"]
        assert client.post("/tasks", json={"wait_time": 10}).status_code == 202


def test_body_that_is_not_json_is_422(client):
    r = client.post("/tasks", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_unknown_task_is_404(client):
    task_id = uuid.uuid4()
    r = client.get(f"/tasks/{task_id}")
    assert r.status_code == 404
    assert r.json() == {"detail": f"task {task_id} not found"}


def test_task_id_that_is_not_a_uuid_is_422(client):
    assert client.get("/tasks/123").status_code == 422
    assert client.post("/tasks/123/cancel").status_code == 422
    assert client.delete("/tasks/123").status_code == 422


def test_list_tasks_newest_first_with_status_and_limit(client):
    ids = [client.post("/tasks", json={"wait_time": 60}).json()["id"] for _ in range(3)]
    listed = [t["id"] for t in client.get("/tasks").json()]
    assert listed == ids[::-1]
    assert [t["id"] for t in client.get("/tasks", params={"limit": 2}).json()] == ids[:0:-1]
    client.post(f"/tasks/{ids[0]}/cancel")
    cancelled = client.get("/tasks", params={"status": "cancelled"}).json()
    assert [t["id"] for t in cancelled] == [ids[0]]
    for task_id in ids[1:]:
        client.post(f"/tasks/{task_id}/cancel")


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"limit": 0}, {"limit": 1001}])
def test_list_tasks_bad_query_is_422(client, params):
    assert client.get("/tasks", params=params).status_code == 422


def test_cancel_running_task(client):
    task_id = client.post("/tasks", json={"wait_time": 60}).json()["id"]
    wait_until(lambda: client.get(f"/tasks/{task_id}").json()["status"] == "running", 5)
    r = client.post(f"/tasks/{task_id}/cancel")
    assert r.status_code == 200
    task = r.json()
    assert task["status"] == "cancelled"
    assert 0 <= task["progress"] < 1
    assert task["finished_at"] is not None
    # It stays cancelled: the job was stopped, not left to finish.
    assert client.get(f"/tasks/{task_id}").json()["status"] == "cancelled"
    app = client.app
    wait_until(lambda: task_id not in app.state.runner.running, 2, what="the job to stop")


def test_cancel_finished_task_is_409_and_unknown_is_404(client):
    task_id = client.post("/tasks", json={"wait_time": 0}).json()["id"]
    finished(client, task_id)
    r = client.post(f"/tasks/{task_id}/cancel")
    assert r.status_code == 409
    assert "already finished (succeeded)" in r.json()["detail"]
    assert client.post(f"/tasks/{uuid.uuid4()}/cancel").status_code == 404


def test_delete_removes_a_finished_task(client):
    task_id = client.post("/tasks", json={"wait_time": 0}).json()["id"]
    finished(client, task_id)
    r = client.delete(f"/tasks/{task_id}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/tasks/{task_id}").status_code == 404
    assert task_id not in [t["id"] for t in client.get("/tasks").json()]
    assert client.delete(f"/tasks/{task_id}").status_code == 404
    assert client.post(f"/tasks/{task_id}/cancel").status_code == 404


def test_delete_of_a_pending_or_running_task_is_409_cancel_it_first(settings):
    settings.max_running = 1
    with TestClient(create_app(settings)) as client:
        running, pending = (client.post("/tasks", json={"wait_time": 60}).json()["id"]
                            for _ in range(2))
        wait_until(lambda: client.get(f"/tasks/{running}").json()["status"] == "running", 5)
        # The pending one first: once the running one is cancelled, it would start.
        for task_id, status in ((pending, "pending"), (running, "running")):
            r = client.delete(f"/tasks/{task_id}")
            assert r.status_code == 409
            assert r.json()["detail"] == (
                f"task {task_id} is {status}: cancel it first (POST /tasks/{task_id}/cancel)"
            )
            assert client.get(f"/tasks/{task_id}").json()["status"] == status
            assert client.post(f"/tasks/{task_id}/cancel").json()["status"] == "cancelled"
            assert client.delete(f"/tasks/{task_id}").status_code == 204
            assert client.get(f"/tasks/{task_id}").status_code == 404


def test_task_counts(client):
    task_id = client.post("/tasks", json={"wait_time": 0}).json()["id"]
    finished(client, task_id)
    counts = client.get("/tasks/counts").json()
    assert counts == {
        "pending": 0, "running": 0, "succeeded": 1, "failed": 0, "cancelled": 0,
        "interrupted": 0,
    }


def test_full_queue_answers_503_with_retry_after(settings):
    settings.max_queued = 2
    with TestClient(create_app(settings)) as client:
        ids = [client.post("/tasks", json={"wait_time": 60}).json()["id"] for _ in range(2)]
        r = client.post("/tasks", json={"wait_time": 0})
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1
        assert "unfinished" in r.json()["detail"]
        assert client.get("/predict", params={"x": 1}).status_code == 200
        client.post(f"/tasks/{ids[0]}/cancel")
        assert client.post("/tasks", json={"wait_time": 0}).status_code == 202
        client.post(f"/tasks/{ids[1]}/cancel")


# -- errors and request ids --------------------------------------------------------------------


def test_every_response_has_a_request_id(client):
    ids = {client.get(p).headers["x-request-id"] for p in ("/livez", "/items/7", "/predict")}
    assert len(ids) == 3


def test_a_client_request_id_is_echoed(client):
    r = client.get("/livez", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


def test_unexpected_error_is_a_logged_500_with_request_id(settings, caplog):
    app = create_app(settings)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    with TestClient(app) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    body = r.json()
    assert body == {"detail": "internal server error", "request_id": r.headers["x-request-id"]}
    assert "secret internals" not in r.text
    [record] = [rec for rec in caplog.records if rec.name == "fpx.errors"]
    assert record.exc_info is not None and body["request_id"] in record.getMessage()


def test_openapi_documents_every_route_with_models_and_errors(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("/livez", "get"): {"200"},
        ("/readyz", "get"): {"200", "503"},
        ("/models", "get"): {"200"},
        ("/predict", "get"): {"200", "404", "422"},
        ("/users", "get"): {"200"},
        ("/users/me", "get"): {"200"},
        ("/users/{username}", "get"): {"200", "404", "422"},
        ("/items", "post"): {"201", "413", "415", "422"},
        ("/items", "get"): {"200", "422"},
        ("/items/{item_id}", "get"): {"200", "404", "422"},
        ("/items/{item_id}", "delete"): {"204", "404", "422"},
        ("/tasks", "post"): {"202", "409", "413", "415", "422", "503"},
        ("/tasks", "get"): {"200", "422"},
        ("/tasks/{task_id}", "get"): {"200", "404", "422"},
        ("/tasks/{task_id}/cancel", "post"): {"200", "404", "409", "422"},
        ("/tasks/{task_id}", "delete"): {"204", "404", "409", "422"},
    }
    for (path, method), statuses in expected.items():
        op = paths[path][method]
        assert statuses <= set(op["responses"]), (path, method, set(op["responses"]))
        ok = next(s for s in statuses if s.startswith("2"))
        if ok != "204":
            assert "schema" in op["responses"][ok]["content"]["application/json"], (path, method)
        assert op.get("summary"), (path, method)
    assert "Location" in paths["/items"]["post"]["responses"]["201"]["headers"]
    assert "Location" in paths["/tasks"]["post"]["responses"]["202"]["headers"]
    assert "Retry-After" in paths["/tasks"]["post"]["responses"]["503"]["headers"]
    assert client.get("/docs").status_code == 200
