"""Fixtures shared by every suite: settings on a temp database, an app with its lifespan run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings


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


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(db=db_path, heartbeat_interval=0.1, lease_timeout=2.0, shutdown_timeout=1.0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
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
