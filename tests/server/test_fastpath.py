"""The /predict fast path answers exactly what the FastAPI route answers, or leaves it to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from server import fastpath
from server.app import create_app
from server.fastpath import PredictFastPath
from server.settings import Settings

PLAIN = ["3.5", "0", "-0", "-2.5", "42", "1e3", "1.5E-7", "0.1", "123456789012345678", "1e306",
         "5e-324", "2.5e2", "2.5e-2"]
DECLINED = ["2.5e+2", "2.5e%2B2", "inf", "nan", "1e400", "+3", "007", " 3", "3.", ".5", "1_000",
            "0x10", "", "abc"]


@contextmanager
def _clients(
    settings: Settings, tmp_path, token: str | None = None
) -> Iterator[tuple[TestClient, TestClient]]:
    """A client of the app, and one of the same app without its fast path."""
    settings = settings.model_copy(update={"api_token": SecretStr(token) if token else None})
    fast = create_app(settings)
    route_only = create_app(settings.model_copy(update={"db": tmp_path / "route-only.db"}))
    route_only.user_middleware = [
        m for m in route_only.user_middleware if m.cls is not PredictFastPath
    ]
    with TestClient(fast) as a, TestClient(route_only) as b:
        yield a, b


@pytest.fixture
def taken(monkeypatch) -> list[bytes | None]:
    """What the fast path answered for each request it saw (None: passed to FastAPI)."""
    answers: list[bytes | None] = []
    answer = PredictFastPath._answer

    async def spy(self, scope):
        answers.append(await answer(self, scope))
        return answers[-1]

    monkeypatch.setattr(fastpath.PredictFastPath, "_answer", spy)
    return answers


def _same(a: TestClient, b: TestClient, url: str, **kwargs) -> int:
    fast, route = a.get(url, **kwargs), b.get(url, **kwargs)
    assert (fast.status_code, fast.content) == (route.status_code, route.content), url
    drop = {"x-request-id", "date"}
    assert {k: v for k, v in fast.headers.items() if k not in drop} == {
        k: v for k, v in route.headers.items() if k not in drop
    }
    return fast.status_code


def test_plain_requests_take_the_fast_path_and_answer_the_same(settings, tmp_path, taken):
    with _clients(settings, tmp_path) as (a, b):
        for x in PLAIN:
            for query in (f"x={x}", f"x={x}&model=answer_to_everything"):
                taken.clear()
                assert _same(a, b, f"/predict?{query}") == 200
                assert taken[0] is not None, query
                assert "x-request-id" in a.get(f"/predict?{query}").headers


def test_everything_else_is_left_to_the_route(settings, tmp_path, taken):
    with _clients(settings, tmp_path) as (a, b):
        queries = [f"x={x}" for x in DECLINED] + [
            "x=1e307", "model=answer_to_everything&x=1", "x=1&model=nope", "x=1&x=2", "",
            "x=1&model=answer_to_everything&extra=1",
        ]
        for query in queries:
            taken.clear()
            _same(a, b, f"/predict?{query}")
            assert taken in ([], [None]), query


def test_with_a_token_only_the_right_one_is_answered_fast(settings, tmp_path, taken):
    with _clients(settings, tmp_path, token="s3cret") as (a, b):
        assert _same(a, b, "/predict?x=2", headers={"Authorization": "Bearer s3cret"}) == 200
        assert taken[-1] is not None
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            taken.clear()
            assert _same(a, b, "/predict?x=2", headers=headers) == 401
            assert taken == [None]
