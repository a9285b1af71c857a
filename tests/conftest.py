"""Fixtures shared by every suite: settings on a temp database, an app with its lifespan run.

`settings` and `client` use SQLite. `database` (and `any_settings`, `any_client`) run a test on
each backend: an SQLite file, and a PostgreSQL database of this test run's own on the server
FPX_TEST_POSTGRES_URL names (tests/postgres.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests import postgres


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test reads the developer's FPX_* variables or writes to their home directory."""
    import os

    for name in list(os.environ):
        if name.startswith("FPX_"):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "fpx.db"


def make_settings(db: Path | str) -> Settings:
    return Settings(db=db, heartbeat_interval=0.1, lease_timeout=2.0, shutdown_timeout=1.0)


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return make_settings(db_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database this test run creates, and drops at its end."""
    with postgres.scratch_database() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The run's PostgreSQL database, emptied: each test starts from no schema at all."""
    postgres.reset(postgres_database)
    return postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, db_path: Path) -> Path | str:
    """The database of a test that runs on both backends: a file path, or a URL."""
    if request.param == "sqlite":
        return db_path
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def any_settings(database: Path | str) -> Settings:
    return make_settings(database)


@pytest.fixture
def any_client(any_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(any_settings)) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port something listens on (and never answers): `fpx serve` there fails at once,
    before starting anything."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        yield held.getsockname()[1]
