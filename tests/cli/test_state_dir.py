"""A state directory fpx cannot use (FPX_STATE_DIR a file, below a file, or not creatable):
one clear line, never a traceback; a client command still finds a server by the default URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import session
from cli.errors import ExitCode
from tests.cli.conftest import one_line


@pytest.fixture(params=["a file", "below a file"])
def file_state_dir(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "not-a-dir"
    file.write_text("")
    path = file if request.param == "a file" else file / "fpx"
    monkeypatch.setenv("FPX_STATE_DIR", str(path))
    return path


def expected(path: Path, what: str = "is not usable: it is not a directory") -> str:
    return f"error: the state directory {path} (FPX_STATE_DIR) {what}"


@pytest.mark.parametrize("command", [["status"], ["stop"], ["logs"], ["logs", "-f"]],
                         ids=" ".join)
def test_the_detached_commands_say_so(fpx, file_state_dir, command):
    assert one_line(fpx.fails(ExitCode.USAGE, *command)) == expected(file_state_dir)


def test_a_client_command_falls_back_to_the_default_url(fpx, file_state_dir, server,
                                                         monkeypatch):
    monkeypatch.delenv("FPX_URL")
    monkeypatch.setattr(session, "DEFAULT_URL", server.url)  # where the default server is
    result = fpx("predict", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: {expected(file_state_dir).removeprefix('error: ')}; trying {server.url}\n"
    )
    assert '"result": 42.0' in result.stdout


@pytest.mark.parametrize("state_dir", ["file", "/proc/nope/fpx"])
def test_serve_detach_says_so_before_starting_anything(
    fpx, tmp_path, monkeypatch, held_port, state_dir
):
    if state_dir == "file":
        path = tmp_path / "file"
        path.write_text("")
        message = expected(path)
    else:
        path = Path(state_dir)
        message = expected(path, "cannot be created: no such file or directory")
    monkeypatch.setenv("FPX_STATE_DIR", str(path))
    # Had the state directory not been checked first: exit 1, the port being in use.
    result = fpx.fails(ExitCode.USAGE, "serve", "--detach", "--port", str(held_port),
                       "--db", str(tmp_path / "never.db"))
    assert one_line(result) == message
    assert not (tmp_path / "never.db").exists()
