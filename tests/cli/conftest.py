"""A real server for the CLI tests, and `fpx`, run in-process by typer's CliRunner.

One server (free port, temp database) serves the whole CLI suite, so tests never assume an
empty database. Each test gets its own FPX_STATE_DIR and FPX_URL pointing at that server.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from tests.live import ServerProcess, free_port


class Fpx:
    """Runs `fpx ARGS...` in-process; an unexpected exception fails the test with its traceback."""

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, **kwargs) -> Result:
        result = self(*args, **kwargs)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, code: int = 0, **kwargs) -> object:
        """The one JSON document the command printed (stdout is not a terminal here)."""
        result = self(*args, **kwargs)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    def fails(self, code: int, *args: str, **kwargs) -> Result:
        """Run, expect exit `code`, an error on stderr, and no traceback anywhere."""
        result = self(*args, **kwargs)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        assert result.stderr.startswith("error: "), result.stderr
        return result


def one_line(result: Result) -> str:
    """The error of a command that must report it in exactly one line."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def server_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "FPX_LOG_LEVEL": "warning",
        "FPX_SHUTDOWN_TIMEOUT": "0.5",
        **extra,
    }


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("cli-server")
    with ServerProcess(workdir, server_env(workdir, FPX_MAX_WAIT="120")) as live:
        yield live


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("FPX_STATE_DIR", str(path))
    return path


@pytest.fixture
def fpx(server: ServerProcess, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Fpx:
    monkeypatch.setenv("FPX_URL", server.url)
    return Fpx()


@pytest.fixture
def free_url() -> str:
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_url(tmp_path) -> Iterator[str]:
    """A web server that is not fpx (it answers HTML)."""
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: QuietHandler(*a, directory=str(tmp_path))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


class FakeServer:
    """A server that is not fpx, answering each path what the test says: `answers` maps a
    method and path ("GET /predict") or a path alone, to (status, JSON body); anything else
    gets `default`. `requested` lists the request lines' paths, as sent."""

    def __init__(self, answers: dict[str, tuple[int, object]], default=(404, {"detail": "?"})):
        self.answers = answers
        self.default = default
        self.requested: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                fake.requested.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                path = self.path.split("?")[0]
                status, body = fake.answers.get(
                    f"{self.command} {path}", fake.answers.get(path, fake.default)
                )
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
