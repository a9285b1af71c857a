"""Access control: with FPX_API_TOKEN set, every API operation needs the bearer token."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from server.app import create_app

TOKEN = "s3cret-Token_with.chars"
OPEN = {"/livez", "/readyz"}
# A valid value for each path parameter, so that a request reaches its endpoint.
PATH_VALUES = {
    "username": "Rick",
    "item_id": "1",
    "task_id": "00000000-0000-4000-8000-000000000000",
}
BODIES = {("/items", "post"): {"name": "x"}, ("/tasks", "post"): {"wait_time": 0}}


@pytest.fixture
def secured(settings):
    settings.api_token = TOKEN
    with TestClient(create_app(settings)) as client:
        yield client


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method in methods:
            url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
            query = {"x": "1"} if path == "/predict" else {}
            yield path, method, url, query, BODIES.get((path, method))


def test_every_operation_needs_the_token(secured):
    spec = secured.get("/openapi.json").json()
    ops = list(operations(spec))
    assert len(ops) >= 15
    for path, method, url, query, body in ops:
        without = secured.request(method, url, params=query, json=body)
        wrong = secured.request(
            method, url, params=query, json=body, headers={"Authorization": "Bearer nope"}
        )
        right = secured.request(
            method, url, params=query, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        if path in OPEN:
            assert without.status_code == 200, (method, path)
            continue
        for r in (without, wrong):
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in r.text
        assert right.status_code != 401, (method, path)
        assert right.status_code < 500, (method, path, right.text)
        assert "401" in spec["paths"][path][method]["responses"], (method, path)


def test_other_schemes_and_malformed_headers_are_401(secured):
    for header in (f"Basic {TOKEN}", TOKEN, "Bearer", f"Bearer  {TOKEN}x", "Bearer \u00e9"):
        r = secured.get("/users", headers={"Authorization": header.encode("utf-8")})
        assert r.status_code == 401, header


def test_the_token_never_reaches_a_log_line(settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.api_token = TOKEN
    with TestClient(create_app(settings)) as client:
        client.get("/users", headers={"Authorization": f"Bearer {TOKEN}"})
        client.get("/users", headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


def test_without_a_token_everything_is_open(client):
    assert client.get("/users").status_code == 200
    spec = client.get("/openapi.json").json()
    assert all("401" not in op["responses"] for m in spec["paths"].values() for op in m.values())
