"""Start-up and shut-down: the registry is filled, then cleared; a failing model stops start-up."""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.registry import ModelLoadError
from server.settings import ModelSpec
from tests.server import sample_models


def spec(text: str) -> ModelSpec:
    return ModelSpec.parse(text)


def test_registry_is_filled_at_start_and_cleared_at_stop(settings, caplog):
    caplog.set_level(logging.INFO, logger="fpx")
    settings.models = [spec("double=tests.server.sample_models:load_double")]
    app = create_app(settings)
    with TestClient(app) as client:
        registry = app.state.registry
        assert registry.names() == ["answer_to_everything", "double"]
        assert client.get("/readyz").json()["models"] == ["answer_to_everything", "double"]
    assert len(registry) == 0
    assert app.state.phase == "stopping"
    messages = [r.getMessage() for r in caplog.records if r.name == "fpx.lifespan"]
    for step in ("loading 2 models: done", "opening database", "starting task runner",
                 "stopping task runner: done", "closing database: done",
                 "releasing 2 models: done"):
        assert any(step in m for m in messages), (step, messages)


def test_models_are_released_with_their_close(settings):
    sample_models.Closable.closed = False
    settings.models = [spec("neg=tests.server.sample_models:load_closable")]
    with TestClient(create_app(settings)) as client:
        assert client.get("/predict", params={"x": 2, "model": "neg"}).json()["result"] == -2
        assert not sample_models.Closable.closed
    assert sample_models.Closable.closed


@pytest.mark.parametrize(
    ("loader", "reason"),
    [
        ("tests.server.sample_models:load_broken", "RuntimeError: weights file missing"),
        ("tests.server.sample_models:load_not_callable", "loader returned int, not a callable"),
        ("tests.server.no_such_module:load", "No module named 'tests.server.no_such_module'"),
        ("tests.server.sample_models:no_such_attr", "has no attribute 'no_such_attr'"),
    ],
)
def test_a_failing_model_stops_start_up_with_a_clear_log_line(settings, caplog, loader, reason):
    settings.models = [spec(f"bad={loader}")]
    app = create_app(settings)
    with pytest.raises(ModelLoadError) as failure, TestClient(app):
        pass
    assert "model 'bad'" in str(failure.value) and reason in str(failure.value)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("model 'bad'" in m and reason in m for m in logged), logged
    # Never ready, and the registry was emptied again.
    assert app.state.phase == "starting"
    assert len(app.state.registry) == 0


def test_an_unusable_database_stops_start_up(settings, tmp_path):
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not a database at all, just some text" * 100)
    settings.db = bad
    with pytest.raises(Exception, match="not-a-db"), TestClient(create_app(settings)):
        pass


def test_extra_models_predict_sync_in_a_thread_and_async_on_the_loop(settings):
    settings.models = [
        spec("double=tests.server.sample_models:load_double"),
        spec("square=tests.server.sample_models:load_async_square"),
        spec("plus1=tests.server.sample_models:load_async_loader"),
    ]
    sample_models.calls.clear()
    with TestClient(create_app(settings)) as client:
        def ask(model, x):
            return client.get("/predict", params={"x": x, "model": model}).json()

        assert ask("double", 4) == {"model": "double", "x": 4.0, "result": 8.0}
        assert ask("square", 3)["result"] == 9.0
        assert ask("plus1", 1)["result"] == 2.0
        assert ask("answer_to_everything", 1)["result"] == 42.0
        registry = client.app.state.registry
        # The plain model ran in a worker thread, so it cannot block the event loop...
        assert sample_models.calls and all(c != "MainThread" for c in sample_models.calls)
        loop_thread = client.portal.call(lambda: threading.current_thread().name)
        assert loop_thread not in sample_models.calls
        # ...while the built-in one is marked to run inline, with no thread hop.
        assert registry.get("answer_to_everything").inline
        assert not registry.get("double").inline


def test_a_failing_close_releases_every_other_model_and_the_stop_completes(settings, caplog):
    caplog.set_level(logging.INFO, logger="fpx")
    sample_models.Closable.closed = sample_models.AsyncClosable.closed = False
    settings.models = [
        spec("bad=tests.server.sample_models:load_failing_close"),
        spec("neg=tests.server.sample_models:load_closable"),
        spec("aneg=tests.server.sample_models:load_async_closable"),
    ]
    app = create_app(settings)
    with TestClient(app):
        pass  # the shut-down raises nothing
    assert sample_models.Closable.closed and sample_models.AsyncClosable.closed
    assert len(app.state.registry) == 0
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("fpx")]
    assert any(
        "model bad (tests.server.sample_models:load_failing_close) failed to close: "
        "handle already gone" in m for m in messages
    ), messages
    for line in ("releasing 4 models: done", "closing database: done", "fpx stopped"):
        assert any(line in m for m in messages), (line, messages)
