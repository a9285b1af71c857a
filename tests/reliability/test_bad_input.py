"""Bad input gets a clear 4xx naming the problem, never a 500, and nothing is stored half-way."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from bench.hostile_figures import hostile_body
from server.app import create_app
from server.errors import validation_error_handler

UUID0 = "00000000-0000-4000-8000-000000000000"
JSON = {"content-type": "application/json"}
# The docs assets are a mount, /static-offline-docs/{path}.
PATH_VALUES = {"item_id": "1", "username": "Rick", "task_id": UUID0, "path": "swagger-ui.css"}

CASES = [
    # (id, method, url, request kwargs, status, words the detail must contain)
    ("x not a number", "GET", "/predict?x=abc", {}, 422, ["x", "valid number"]),
    ("x empty", "GET", "/predict?x=", {}, 422, ["x", "valid number"]),
    ("x missing", "GET", "/predict", {}, 422, ["x", "Field required"]),
    ("x inf", "GET", "/predict?x=inf", {}, 422, ["x", "finite number"]),
    ("x -inf", "GET", "/predict?x=-inf", {}, 422, ["x", "finite number"]),
    ("x nan", "GET", "/predict?x=nan", {}, 422, ["x", "finite number"]),
    ("x overflows", "GET", "/predict?x=1e999", {}, 422, ["x", "finite number"]),
    ("result overflows", "GET", "/predict?x=1e308", {}, 422, ["non-finite result"]),
    ("model too long", "GET", "/predict?x=1&model=" + "m" * 201, {}, 422, ["model", "at most"]),
    ("wait negative", "POST", "/tasks", {"json": {"wait_time": -5}}, 422,
     ["wait_time", "greater than or equal to 0"]),
    ("wait above max", "POST", "/tasks", {"json": {"wait_time": 3601}}, 422,
     ["wait_time", "less than or equal to 3600"]),
    ("wait float", "POST", "/tasks", {"json": {"wait_time": 1.5}}, 422,
     ["wait_time", "valid integer"]),
    ("wait string", "POST", "/tasks", {"json": {"wait_time": "5"}}, 422,
     ["wait_time", "valid integer"]),
    ("wait boolean", "POST", "/tasks", {"json": {"wait_time": True}}, 422,
     ["wait_time", "valid integer"]),
    ("wait missing", "POST", "/tasks", {"json": {}}, 422, ["wait_time", "Field required"]),
    ("wait null", "POST", "/tasks", {"json": {"wait_time": None}}, 422,
     ["wait_time", "valid integer"]),
    ("wait huge", "POST", "/tasks", {"json": {"wait_time": 10**30}}, 422, ["wait_time"]),
    ("unknown field", "POST", "/tasks", {"json": {"wait_time": 1, "wat": 1}}, 422,
     ["wat", "Extra inputs"]),
    ("task id not uuid", "POST", "/tasks", {"json": {"wait_time": 1, "id": "7"}}, 422,
     ["id", "valid UUID"]),
    ("body not json", "POST", "/tasks", {"content": b"{wait", "headers": JSON}, 422,
     ["JSON decode error"]),
    ("body not utf-8", "POST", "/tasks", {"content": b'{"wait_time": "\xff"}', "headers": JSON},
     422, ["JSON decode error"]),
    ("wait_time 1e400", "POST", "/tasks", {"content": b'{"wait_time": 1e400}', "headers": JSON},
     422, ["wait_time", "valid integer", "inf"]),
    ("wait_time NaN", "POST", "/tasks", {"content": b'{"wait_time": NaN}', "headers": JSON},
     422, ["wait_time", "valid integer", "nan"]),
    ("wait_time Infinity", "POST", "/tasks",
     {"content": b'{"wait_time": -Infinity}', "headers": JSON}, 422, ["wait_time", "-inf"]),
    ("item name 1e400", "POST", "/items", {"content": b'{"name": 1e400}', "headers": JSON},
     422, ["name", "valid string"]),
    ("lone surrogate value", "POST", "/items",
     {"content": b'{"name": 5, "description": "\\ud800"}', "headers": JSON}, 422, ["name"]),
    ("lone surrogate key", "POST", "/tasks",
     {"content": b'{"\\ud800": 1, "wait_time": 1}', "headers": JSON}, 422, ["unicode"]),
    ("deeply nested body", "POST", "/tasks",
     {"content": b"[" * 10000 + b"]" * 10000, "headers": JSON}, 422, ["JSON decode error"]),
    ("huge x echoed short", "GET", "/predict?x=" + "9" * 5000 + "z", {}, 422,
     ["x", "valid number", "..."]),
    ("body json array", "POST", "/tasks", {"json": [1, 2]}, 422, ["valid dictionary"]),
    ("body json string", "POST", "/items", {"json": "name"}, 422, ["valid dictionary"]),
    ("wrong content type", "POST", "/tasks",
     {"content": b'{"wait_time": 1}', "headers": {"content-type": "text/plain"}}, 415,
     ["content type", "text/plain", "application/json"]),
    ("form content type", "POST", "/items",
     {"content": b"name=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
     415, ["content type"]),
    ("body too large", "POST", "/items", {"json": {"name": "x", "description": "d" * 70_000}},
     413, ["65536-byte limit"]),
    ("streamed body too large", "POST", "/items",
     {"content": iter([b'{"name": "', b"n" * 70_000, b'"}']), "headers": JSON}, 413,
     ["65536-byte limit"]),
    ("item name empty", "POST", "/items", {"json": {"name": ""}}, 422, ["name", "at least 1"]),
    ("item name too long", "POST", "/items", {"json": {"name": "n" * 201}}, 422,
     ["name", "at most 200"]),
    ("get task not uuid", "GET", "/tasks/not-a-uuid", {}, 422, ["task_id", "valid UUID"]),
    ("cancel task not uuid", "POST", "/tasks/123/cancel", {}, 422, ["task_id", "valid UUID"]),
    ("delete task not uuid", "DELETE", "/tasks/123", {}, 422, ["task_id", "valid UUID"]),
    ("item id zero", "GET", "/items/0", {}, 422, ["item_id", "greater than or equal to 1"]),
    ("item id negative", "GET", "/items/-1", {}, 422, ["item_id", "greater than or equal to 1"]),
    ("item id not int", "GET", "/items/abc", {}, 422, ["item_id", "valid integer"]),
    ("item id float", "GET", "/items/1.5", {}, 422, ["item_id", "valid integer"]),
    ("item id too big", "GET", f"/items/{2**63}", {}, 422, ["item_id", "less than or equal"]),
    ("delete item id zero", "DELETE", "/items/0", {}, 422, ["item_id"]),
    ("items limit 0", "GET", "/items?limit=0", {}, 422, ["limit", "greater than or equal to 1"]),
    ("items limit 1001", "GET", "/items?limit=1001", {}, 422, ["limit", "less than or equal"]),
    ("items offset -1", "GET", "/items?offset=-1", {}, 422, ["offset", "greater than or equal"]),
    ("items limit text", "GET", "/items?limit=ten", {}, 422, ["limit", "valid integer"]),
    ("tasks limit 0", "GET", "/tasks?limit=0", {}, 422, ["limit"]),
    ("tasks limit 1001", "GET", "/tasks?limit=1001", {}, 422, ["limit"]),
    ("tasks status unknown", "GET", "/tasks?status=done", {}, 422, ["status", "pending"]),
    ("username too long", "GET", "/users/" + "u" * 65, {}, 422, ["username", "1 to 64"]),
    ("username with slash", "GET", "/users/a%2Fb", {}, 422, ["username", "1 to 64"]),
    ("username with ..", "GET", "/users/a..b", {}, 422, ["username", "'..'"]),
    ("username dotdot encoded", "GET", "/users/%2E%2E", {}, 422, ["username"]),
    ("username with space", "GET", "/users/a%20b", {}, 422, ["username"]),
    # A path with a control character names no resource, whatever the route.
    ("username with control", "GET", "/users/a%01b", {}, 404, ["Not Found"]),
    ("username with newline", "GET", "/users/a%0Ab", {}, 404, ["Not Found"]),
    ("username trailing newline", "GET", "/users/Rick%0A", {}, 404, ["Not Found"]),
    ("user list trailing newline", "GET", "/users/%0A", {}, 404, ["Not Found"]),
    ("livez trailing newline", "GET", "/livez%0A", {}, 404, ["Not Found"]),
]


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_is_a_clear_4xx(client, method, url, kwargs, status, words):
    r = client.request(method, url, **kwargs)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    text = detail if isinstance(detail, str) else json.dumps(detail)
    for word in words:
        assert word in text, (word, text)
    # Nothing was stored by a refused request.
    assert client.get("/items").json() == []
    assert client.get("/tasks").json() == []


def test_unknown_query_parameters_are_ignored(client):
    r = client.get("/predict", params={"x": 2, "y": 3, "model": "answer_to_everything"})
    assert r.status_code == 200 and r.json()["result"] == 84
    assert client.get("/items", params={"sort": "name"}).status_code == 200


def test_the_body_limit_is_a_setting(settings):
    settings.max_body_size = 100
    with TestClient(create_app(settings)) as client:
        r = client.post("/items", json={"name": "n" * 150})
        assert r.status_code == 413
        assert r.json() == {"detail": "request body is over the 100-byte limit"}
        assert client.post("/items", json={"name": "n" * 50}).status_code == 201


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [("PUT", "/items", "GET, POST"), ("OPTIONS", "/items/1", "DELETE, GET"),
     ("DELETE", "/tasks/counts", "GET"), ("POST", "/livez", "GET")],
)
def test_a_wrong_method_is_405_listing_the_resources_methods(client, method, url, allow):
    r = client.request(method, url)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.json() == {"detail": "Method Not Allowed"}


def test_every_405_lists_the_methods_that_work_there(client):
    # Every route, the framework's own (/docs, /openapi.json, /redoc) included.
    routes = list(iter_route_contexts(client.app.router.routes))
    assert {"/docs", "/openapi.json", "/items"} <= {r.path_format for r in routes}
    for route in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], route.path_format)
        if not route.methods:  # a mount (the docs assets): its app answers each method
            continue
        wrong = next((m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in route.methods),
                     None)
        if wrong is None:  # /tasks/counts' refusal of every write
            continue
        r = client.request(wrong, url)
        assert r.status_code == 405, (wrong, url, r.status_code)
        allowed = r.headers["allow"].split(", ")
        assert allowed != [""], (wrong, url)
        for method in allowed:
            assert client.request(method, url).status_code != 405, (method, url)


def test_the_other_spelling_of_a_path_redirects_without_trusting_the_host(client):
    evil = {"host": "evil.example:666"}
    r = client.get("/tasks/?limit=5", headers=evil, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (307, "/tasks?limit=5")
    for route in iter_route_contexts(client.app.router.routes):
        if "GET" not in (route.methods or ()):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], route.path_format)
        other = url[:-1] if url.endswith("/") else url + "/"
        r = client.get(other, headers=evil, follow_redirects=False)
        assert "evil.example" not in str(r.headers), (other, r.headers)
        if r.status_code == 307:
            assert r.headers["location"] == url, (other, r.headers)
            assert client.get(other, follow_redirects=True).url.path == url
        else:  # served as it is: /users/ lists users, /users/Rick/ is a bad name (422)
            assert other.startswith("/users"), (other, r.status_code)


def test_no_route_takes_a_path_with_a_control_character(client):
    for route in iter_route_contexts(client.app.router.routes):
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], route.path_format)
        method = sorted(route.methods or {"GET"})[0]  # a mount has none: it takes any
        for bad in (url + "%0A", url + "%0D%0A", url + "%00", url.replace("/", "/%7F", 1)):
            r = client.request(method, bad, follow_redirects=False)
            assert r.status_code == 404, (method, bad, r.status_code)
            assert r.json() == {"detail": "Not Found"} and r.headers["x-request-id"]


@pytest.mark.parametrize(("url", "fields"), [("/tasks", "job, args, wait_time, id, time_limit"),
                                             ("/items", "name, description")])
def test_a_body_of_thousands_of_unknown_keys_is_one_short_422(client, url, fields):
    body = hostile_body()  # 64 KiB of distinct keys: 8,680 unknown fields
    assert len(body) <= 64 * 1024
    r = client.post(url, content=body, headers=JSON)
    assert r.status_code == 422
    assert len(r.content) < 2048  # it was 838 KB, after half a second of the event loop
    [error] = r.json()["detail"]
    unknown = sum(key not in fields.split(", ") for key in json.loads(body))  # "id" is one
    assert error["msg"] == (
        f"Value error, {unknown} unknown fields ('a', 'b', 'c', 'd', 'e', ...); the fields are "
        f"{fields}"
    )


def test_a_422_lists_the_first_errors_and_counts_the_rest():
    many = RequestValidationError(
        [{"type": "int_parsing", "loc": ("query", f"q{i}"), "msg": "bad", "input": i}
         for i in range(25)]
    )
    detail = json.loads(asyncio.run(validation_error_handler(None, many)).body)["detail"]
    assert [e["loc"] for e in detail[:10]] == [["query", f"q{i}"] for i in range(10)]
    assert detail[10] == {
        "type": "too_many_errors", "loc": [], "msg": "15 more errors not shown", "input": None
    }
    assert len(detail) == 11
