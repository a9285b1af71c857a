"""The order of refusals, for every request: unknown path 404, wrong method 405, missing or
wrong token 401, then body size 413 and type 415, then validation 422. Each is FastAPI's JSON
`{"detail": ...}` with an X-Request-ID."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.app import create_app

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}
BIG = b'{"name": "' + b"n" * 70_000 + b'"}'
BODY_ROUTES = ["/items", "/tasks"]  # the operations that take a body (checked below)


@pytest.fixture
def secured(settings):
    settings.api_token = TOKEN
    with TestClient(create_app(settings)) as client:
        yield client


def status(client, method, url, content=b"", headers=None):
    r = client.request(method, url, content=content, headers=headers or {})
    assert r.headers["x-request-id"], r.headers
    assert "detail" in r.json(), r.text
    return r.status_code


def test_the_operations_that_take_a_body_are_those_checked(secured):
    spec = secured.app.openapi()
    with_body = sorted(
        path for path, ops in spec["paths"].items() for op in ops.values() if "requestBody" in op
    )
    assert with_body == BODY_ROUTES


@pytest.mark.parametrize("url", BODY_ROUTES)
def test_each_refusal_comes_in_its_order(secured, url):
    # Without the token, whatever the body: 401.
    for content, headers in [(b"{bad", JSON), (BIG, JSON), (b"{}", TEXT), (b"{}", {})]:
        assert status(secured, "POST", url, content, headers) == 401, (content[:10], headers)
    # With it: size before type, type before validation.
    assert status(secured, "POST", url, BIG, {**AUTH, **TEXT}) == 413
    assert status(secured, "POST", url, b"{}", {**AUTH, **TEXT}) == 415
    assert status(secured, "POST", url, b"{bad", {**AUTH, **JSON}) == 422
    # And an unknown path or a wrong method before any of them.
    assert status(secured, "POST", url + "/nope/x", BIG, TEXT) == 404
    assert status(secured, "PUT", url, BIG, TEXT) == 405


@pytest.mark.parametrize(("method", "url", "expected"), [
    ("POST", "/livez", 405), ("POST", "/nope", 404), ("PUT", "/users/Rick", 405),
    ("POST", "/readyz", 405), ("PATCH", "/items/1", 405),
])
def test_routing_answers_before_the_body_is_looked_at(client, method, url, expected):
    assert status(client, method, url, BIG, TEXT) == expected


@pytest.mark.parametrize("headers", [{}, {"content-type": ""}], ids=["none", "empty"])
@pytest.mark.parametrize("url", BODY_ROUTES)
def test_a_json_body_without_a_content_type_is_415_asking_for_json(client, url, headers):
    r = client.post(url, content=b'{"name": "x", "wait_time": 0}', headers=headers)
    assert r.status_code == 415, r.text
    assert r.json() == {"detail": "no content type: send application/json"}
    assert client.get(url).json() == []  # nothing stored
