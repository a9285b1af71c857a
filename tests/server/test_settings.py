from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import ModelSpec, Settings


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    s = Settings()
    assert (s.host, s.port, s.max_wait, s.max_running, s.max_queued) == (
        "127.0.0.1", 8000, 3600, 100, 10000
    )
    assert s.shutdown_timeout == 5 and s.default_user == "fakecurrentuser"
    assert s.log_level == "info" and s.models == []
    assert s.db == tmp_path / "fpx" / "fpx.db"


def test_environment_variables(monkeypatch):
    env = {
        "FPX_HOST": "0.0.0.0", "FPX_PORT": "9001", "FPX_DB": "/tmp/x.db",
        "FPX_MODELS": "a=pkg.mod:load, b=other:make.it", "FPX_MAX_WAIT": "10",
        "FPX_MAX_RUNNING": "3", "FPX_MAX_QUEUED": "7", "FPX_SHUTDOWN_TIMEOUT": "1.5",
        "FPX_DEFAULT_USER": "summer", "FPX_LOG_LEVEL": "WARNING",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings()
    assert s.host == "0.0.0.0" and s.port == 9001 and s.db == Path("/tmp/x.db")
    assert s.models == [ModelSpec(name="a", loader="pkg.mod:load"),
                        ModelSpec(name="b", loader="other:make.it")]
    assert (s.max_wait, s.max_running, s.max_queued, s.shutdown_timeout) == (10, 3, 7, 1.5)
    assert s.default_user == "summer" and s.log_level == "warning"


@pytest.mark.parametrize(
    ("name", "value"),
    [("FPX_MODELS", "nomodule"), ("FPX_MODELS", "x=mod"), ("FPX_MODELS", "=m:a"),
     ("FPX_LOG_LEVEL", "loud"), ("FPX_PORT", "70000"), ("FPX_MAX_RUNNING", "0")],
)
def test_bad_values_are_refused_with_the_setting_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as err:
        Settings()
    assert name.removeprefix("FPX_").lower() in str(err.value)
