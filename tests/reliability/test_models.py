"""A plug-in model that fails on a finite x: a refusal of x is a 422 naming the model and the
error; any other failure a 500 with the request id, logged with the model named."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import ModelSpec

MODELS = {
    "exp": "load_exp", "recip": "load_reciprocal", "sqrt": "load_sqrt",
    "broken": "load_broken_predict", "abroken": "load_async_broken_predict",
    "text": "load_wrong_type",
}


@pytest.fixture
def client(settings):
    settings.models = [
        ModelSpec.parse(f"{name}=tests.server.sample_models:{loader}")
        for name, loader in MODELS.items()
    ]
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(("model", "x", "msg"), [
    ("exp", 1000, "model 'exp' refuses this x: OverflowError: math range error"),
    ("recip", 0, "model 'recip' refuses this x: ZeroDivisionError: float division by zero"),
    ("sqrt", -1, "model 'sqrt' refuses this x: ValueError: "),
    ("answer_to_everything", 1e308, "model 'answer_to_everything' gives a non-finite result"),
])
def test_a_model_refusing_x_is_a_422_naming_the_model_and_the_error(client, model, x, msg):
    r = client.get("/predict", params={"x": x, "model": model})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["query", "x"] and error["input"] == x
    assert error["msg"].startswith(msg), error


@pytest.mark.parametrize(("model", "reason"), [
    ("broken", "RuntimeError: weights corrupt"),
    ("abroken", "KeyError: 'layer'"),
    ("text", "it returned str, not a number"),
])
def test_a_broken_model_is_a_500_with_the_request_id_logged_naming_it(
    client, caplog, model, reason
):
    caplog.set_level(logging.ERROR, logger="fpx")
    r = client.get("/predict", params={"x": 1, "model": model})
    assert r.status_code == 500
    rid = r.headers["x-request-id"]
    assert r.json() == {"detail": "internal server error", "request_id": rid}
    logged = [rec.getMessage() for rec in caplog.records if rid in rec.getMessage()]
    assert logged == [
        f"unhandled error in GET /predict (request {rid}): model {model!r} failed: {reason}"
    ]


def test_the_422_of_a_refused_x_is_documented(client):
    responses = client.get("/openapi.json").json()["paths"]["/predict"]["get"]["responses"]
    assert "refuses" in responses["422"]["description"]
    assert responses["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
