"""A database that fails under a running server: a full disk, a lock held past the busy
timeout, its file deleted or replaced. Each is a 503 naming the cause, with Retry-After;
nothing is half-written; /readyz says the database cannot be written until it can again."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.helpers import wait_until

LOCKED = "database unavailable: locked by another process for over 0.2 s (FPX_DB_BUSY_TIMEOUT)"


def assert_unavailable(response, detail: str) -> None:
    assert response.status_code == 503, response.text
    assert detail in response.json()["detail"], response.json()
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-request-id"]


def test_a_lock_held_past_the_busy_timeout_is_503_and_writes_nothing(settings, db_path):
    settings.db_busy_timeout = 0.2
    with TestClient(create_app(settings)) as client:
        task = client.post("/tasks", json={"wait_time": 3600}).json()
        locker = sqlite3.connect(db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            for method, url, body in [
                ("POST", "/items", {"name": "x"}),
                ("POST", "/tasks", {"wait_time": 0}),
                ("POST", f"/tasks/{task['id']}/cancel", None),
                ("DELETE", f"/tasks/{task['id']}", None),
            ]:
                assert_unavailable(client.request(method, url, json=body), LOCKED)
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable", "detail": LOCKED}
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        # A write (the runner's heartbeat) succeeds, 5 s after the failure: ready again.
        wait_until(lambda: client.get("/readyz").status_code == 200, 20, what="ready again")
        assert client.get("/items").json() == []
        [only] = client.get("/tasks").json()
        assert (only["id"], only["status"]) == (task["id"], "running")


def test_a_full_disk_is_503_and_writes_nothing(settings):
    app = create_app(settings)
    with TestClient(app) as client:
        conn = app.state.store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        # SQLite's own "database or disk is full", as a full disk gives it.
        conn.execute(f"PRAGMA max_page_count = {pages}")
        created = 0
        for _ in range(100):
            r = client.post("/items", json={"name": "n" * 200, "description": "d" * 2000})
            if r.status_code != 201:
                break
            created += 1
        assert_unavailable(r, "database unavailable: disk is full")
        assert client.get("/readyz").json()["detail"] == "database unavailable: disk is full"
        assert len(client.get("/items", params={"limit": 1000}).json()) == created
        conn.execute(f"PRAGMA max_page_count = {pages * 100}")
        assert client.post("/items", json={"name": "after"}).status_code == 201
        wait_until(lambda: client.get("/readyz").status_code == 200, 20, what="ready again")


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_is_noticed(settings, db_path, caplog, how):
    caplog.set_level(logging.ERROR, logger="fpx")
    with TestClient(create_app(settings)) as client:
        assert client.post("/items", json={"name": "kept"}).status_code == 201
        if how == "deleted":
            db_path.unlink()
        else:
            other = db_path.with_name("other.db")
            with sqlite3.connect(other) as conn:
                conn.execute("CREATE TABLE t (x)")
            os.replace(other, db_path)
        # Noticed on the heartbeat (every 0.1 s here), without any request.
        wait_until(lambda: client.get("/readyz").status_code == 503, 5, what="/readyz 503")
        detail = client.get("/readyz").json()["detail"]
        assert detail == (
            f"database unavailable: the file {db_path} was deleted or replaced; restart the server"
        )
        assert_unavailable(client.post("/items", json={"name": "lost"}), detail)
        assert_unavailable(client.post("/tasks", json={"wait_time": 0}), detail)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"database file {db_path} was deleted or replaced" in m for m in errors), errors
