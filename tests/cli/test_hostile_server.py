"""What fpx does with a server that is not fpx, or one that answers hostile data (issue 11):
a slow drip, JSON of the wrong shape, control characters in its strings, and path arguments."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from cli.errors import ExitCode
from tests.cli.conftest import FakeServer, one_line

TASK_ID = "495f6ce5-4797-420d-8978-288f7b6459fb"
TERMINAL = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "200"}


# -- 18: --request-timeout bounds the whole request ---------------------------------------------

DRIP_INTERVAL = 0.1
DRIP_FOR = 6.0  # then the connection is closed: a client without a whole-request bound ends
# with "closed the connection", not a timeout, and the test fails rather than hangs


@pytest.fixture
def drip_url() -> Iterator[str]:
    """A server that answers `HTTP/1.1 200 OK` and then one header byte every 0.1 s."""
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    workers: list[threading.Thread] = []

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            for _ in range(int(DRIP_FOR / DRIP_INTERVAL)):
                if stop.wait(DRIP_INTERVAL):
                    return
                try:
                    conn.sendall(b"x")
                except OSError:  # the client gave up
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            worker = threading.Thread(target=drip, args=(conn,), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        for worker in workers:
            worker.join(5)
        listener.close()


@pytest.mark.parametrize("args", [["predict", "1"], ["check"], ["health"]])
def test_request_timeout_bounds_the_whole_request(fpx, drip_url, args):
    result = fpx.fails(ExitCode.UNREACHABLE, *args, "--url", drip_url, "--request-timeout", "1")
    assert re.search(
        r"did not answer GET /\S+ within 1 s \(--request-timeout bounds the whole request\)$",
        result.stderr.splitlines()[0],
    ), result.stderr


# -- 21: an answer of the wrong shape is "not an fpx server" ---------------------------------

CLIENT_COMMANDS = {
    "GET /predict": ["predict", "1"],
    "GET /models": ["models"],
    "GET /users": ["users", "list"],
    "GET /users/me": ["users", "me"],
    "GET /users/Rick": ["users", "get", "Rick"],
    "GET /items": ["items", "list"],
    "GET /items/1": ["items", "get", "1"],
    "POST /items": ["items", "add", "gun"],
    "GET /jobs": ["jobs"],
    "POST /tasks": ["task", "submit", "--wait", "1"],
    "GET /tasks": ["task", "list"],
    f"GET /tasks/{TASK_ID}": ["task", "get", TASK_ID],
    "GET /livez": ["health"],
}
WRONG_SHAPES = {
    "empty object": {},
    "a list": [1, 2],
    "a string": "hello",
    "null": None,
    "numbers as strings": {"model": "m", "x": "1", "result": "42", "username": 7, "id": "1",
                           "name": None, "status": "ready", "models": "all"},
}


CASES = [(shape, "json") for shape in WRONG_SHAPES] + [("empty object", "terminal")]


@pytest.mark.parametrize(("shape", "mode"), CASES, ids=[f"{s}, {m}" for s, m in CASES])
@pytest.mark.parametrize("request_line", list(CLIENT_COMMANDS))
def test_an_answer_of_the_wrong_shape_is_not_an_fpx_server(fpx, request_line, mode, shape):
    with FakeServer({}, default=(200, WRONG_SHAPES[shape])) as fake:
        env = TERMINAL if mode == "terminal" else None
        result = fpx.fails(ExitCode.FAILED, *CLIENT_COMMANDS[request_line], "--url", fake.url,
                           env=env)
    assert one_line(result) == (
        f"error: {fake.url} is not an fpx server (unexpected answer to {request_line})"
    )
    assert result.stdout == ""


def test_health_does_not_call_a_wrong_shape_ready(fpx):
    answers = {"/livez": (200, {"status": "alive"}), "/readyz": (200, {"status": "ready"})}
    with FakeServer(answers) as fake:
        result = fpx.fails(ExitCode.FAILED, "health", "--url", fake.url)
    assert one_line(result) == (
        f"error: {fake.url} is not an fpx server (unexpected answer to GET /readyz)"
    )


def test_task_wait_and_cancel_check_the_shape(fpx):
    task = {"id": TASK_ID, "status": "running", "progress": "half"}
    answers = {f"/tasks/{TASK_ID}": (200, task), f"/tasks/{TASK_ID}/cancel": (200, task)}
    with FakeServer(answers) as fake:
        for args in (["task", "wait", TASK_ID], ["task", "cancel", TASK_ID]):
            result = fpx.fails(ExitCode.FAILED, *args, "--url", fake.url)
            assert "is not an fpx server (unexpected answer to" in one_line(result)


def test_check_reports_wrong_shapes_as_failed_checks(fpx):
    with FakeServer({}, default=(200, {"status": "alive"})) as fake:
        result = fpx("check", "--url", fake.url)
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "Traceback" not in result.output
    results = {r["check"]: r for r in json.loads(result.stdout)}
    assert results["alive"]["ok"]
    assert not results["ready"]["ok"]
    assert "unexpected answer to GET /readyz" in results["ready"]["got"]
    assert not results["users list"]["ok"]


def test_error_answers_and_documents_of_another_shape(fpx):
    answers = {"/openapi.json": (200, {"openapi": 1, "paths": 3}),
               "/livez": (200, {"status": "alive"})}
    with FakeServer(answers, default=(404, {"detail": [{"loc": 5, "msg": 3}, 7]})) as fake:
        result = fpx.fails(ExitCode.FAILED, "predict", "1", "--url", fake.url)
        assert one_line(result) == "error: 404 Not Found: 3; 7"
        result = fpx("check", "--url", fake.url)
    assert result.exit_code == ExitCode.FAILED, result.output
    results = {r["check"]: r for r in json.loads(result.stdout)}
    assert results["openapi document"]["got"] == "200 an answer of another shape"


# -- 20: control characters from the server are made visible ----------------------------------

HOSTILE = {
    "title": "\x1b]0;pwned\x07",  # sets the window title
    "conceal": "\x1b[8mhidden",  # concealed text
    "clipboard": "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: writes the clipboard
    "c1": "\x9b31mred",  # C1 CSI
    "overwrite": "safe\rEVIL",  # CR: overwrites the line
    "bidi": "abc\u202edcb",  # right-to-left override
    "link": "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
}
RAW = ("\x1b", "\x07", "\x9b", "\r", "\u202e")


def _hostile_answers() -> dict[str, tuple[int, object]]:
    name = "".join(HOSTILE.values())
    task = {
        "id": TASK_ID, "status": "failed", "progress": 0.5, "job": name, "args": {name: name},
        "wait_time": None, "time_limit": None, "message": name, "created_at": name,
        "started_at": name, "finished_at": name, "result": {name: [name]}, "error": name,
        "worker": name, "attempts": 1,
    }
    item = {"id": 1, "name": name, "description": name, "created_at": name}
    job = {"name": name, "runs": name, "description": name, "parameters": {
        "properties": {name: {"type": name, "default": name}}, "required": []}}
    return {
        "/predict": (200, {"model": name, "x": 1.0, "result": 42.0}),
        "/models": (200, [{"name": name, "loaded_at": name, "load_ms": 1.0}]),
        "/users": (200, [{"username": name}]),
        "/users/me": (200, {"username": name}),
        "/items": (200, [item]),
        "/items/1": (200, item),
        "/jobs": (200, [job]),
        "/tasks": (200, [task]),
        f"/tasks/{TASK_ID}": (200, task),
        "/livez": (200, {"status": "alive"}),
        "/readyz": (200, {"status": "ready", "models": [name]}),
        "/users/nobody": (404, {"detail": name}),
    }


HOSTILE_COMMANDS = [
    ["predict", "1"], ["models"], ["users", "list"], ["users", "me"], ["items", "list"],
    ["items", "get", "1"], ["jobs"], ["task", "list"], ["task", "get", TASK_ID],
    ["task", "wait", TASK_ID], ["health"], ["users", "get", "nobody"],
]


@pytest.mark.parametrize("args", HOSTILE_COMMANDS, ids=" ".join)
def test_control_characters_from_the_server_are_made_visible(fpx, args):
    with FakeServer(_hostile_answers()) as fake:
        shown = fpx(*args, "--url", fake.url, env=TERMINAL)
        as_json = fpx(*args, "--url", fake.url, "--json", env=TERMINAL)
    assert "Traceback" not in shown.output
    out = shown.stdout + shown.stderr
    assert "\x1b[8m" not in out  # the server's concealing sequence
    # rich's own sequences: bold, dim, and the progress bar's cursor moves
    without_rich = re.sub(r"\r?\x1b\[[0-9;?]*[A-Za-z]", "", out)
    for raw in RAW:
        assert raw not in without_rich, (raw, out)
    assert "\\x1b]0;pwned\\x07" in out  # shown, escaped
    # --json: the same data, every control character escaped as JSON does
    for raw in RAW:
        assert raw not in as_json.stdout + as_json.stderr
    if as_json.exit_code == 0:
        assert "pwned" in as_json.stdout
        json.loads(as_json.stdout)


def test_the_server_log_is_shown_with_its_controls_made_visible(fpx, state_dir):
    state_dir.mkdir()
    (state_dir / "server.log").write_text("task failed: bad \x1b]52;c;ZXZpbA==\x07\r\n")
    out = fpx.ok("logs").stdout
    assert out == "task failed: bad \\x1b]52;c;ZXZpbA==\\x07\\r\n"


def test_json_output_keeps_the_servers_strings_exactly(fpx):
    with FakeServer(_hostile_answers()) as fake:
        data = fpx.json("items", "get", "1", "--url", fake.url, "--json", env=TERMINAL)
    assert data["name"] == "".join(HOSTILE.values())


# -- 22: path arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shown"), [
    ("", "NAME must not be empty"),
    (".", "NAME '.' cannot be part of a URL path"),
    ("..", "NAME '..' cannot be part of a URL path"),
    ("Ri\nck", "NAME 'Ri\\nck' cannot be part of a URL path"),
])
def test_a_path_argument_that_cannot_be_one_is_bad_usage(fpx, name, shown):
    with FakeServer({}, default=(200, [])) as fake:
        result = fpx.fails(ExitCode.USAGE, "users", "get", name, "--url", fake.url)
    assert one_line(result) == f"error: {shown}"
    assert fake.requested == []


def test_path_arguments_are_percent_encoded(fpx):
    with FakeServer({}, default=(200, {"username": "x"})) as fake:
        for name in ("a/b", "Rick?x=1", "50%", "a b", "#frag"):
            fpx.ok("users", "get", name, "--url", fake.url)
    assert fake.requested == [
        "/users/a%2Fb", "/users/Rick%3Fx%3D1", "/users/50%25", "/users/a%20b", "/users/%23frag",
    ]


def test_a_username_with_a_slash_is_not_another_resource(fpx):
    result = fpx.fails(ExitCode.FAILED, "users", "get", "Rick/..")
    assert "422" in one_line(result)
