"""Bad values and broken surroundings (issue 11, items 21, 23, 24): each is one line on stderr
and a documented exit code, never a traceback; nothing is done that the error would hide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from typer.testing import CliRunner

from cli.errors import ExitCode
from cli.main import app
from tests.cli.conftest import FakeServer, one_line
from tests.cli.test_help import command_paths, root

# -- 23: non-finite numbers, for every float argument and option -------------------------------


def float_params() -> list[tuple[tuple[str, ...], object]]:
    found = []
    for path in command_paths():
        command = root().load(path[0])
        if len(path) > 1:
            command = command.commands[path[1]]
        for param in getattr(command, "params", []):
            if param.type_descriptor.annotation is float:
                found.append((path, param))
    return found


def placeholder(param) -> str:
    kind = param.type_descriptor.annotation
    return {float: "1", int: "1", uuid.UUID: str(uuid.uuid4())}.get(kind, "x")


FLOATS = float_params()


def test_the_float_parameters_are_found():
    names = {(" ".join(path), param.name) for path, param in FLOATS}
    assert {("predict", "x"), ("serve", "startup_timeout"), ("task wait", "timeout"),
            ("task submit", "time_limit"), ("predict", "request_timeout")} <= names


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(("path", "param"), FLOATS,
                         ids=[f"{' '.join(p)} {x.name}" for p, x in FLOATS])
def test_every_float_refuses_non_finite_values(fpx, held_port, path, param, value):
    args = [*path]
    for other in param_list(path):
        if other.param_type_name == "argument" and other.required:
            args.append(value if other.name == param.name else placeholder(other))
    if param.param_type_name == "option":
        args += [param.opts[0], value]
    if path == ("serve",):
        args += ["--port", str(held_port)]  # were the value let through, serve fails here
    result = fpx.fails(ExitCode.USAGE, *args)
    shown = param.opts[0] if param.param_type_name == "option" else param.metavar
    assert f"Invalid value for '{shown}'" in one_line(result)


def param_list(path):
    command = root().load(path[0])
    return (command.commands[path[1]] if len(path) > 1 else command).params


def test_a_huge_request_timeout_is_refused_not_an_overflow(fpx):
    result = fpx.fails(ExitCode.USAGE, "predict", "1", "--request-timeout", "1e10")
    assert "Invalid value for '--request-timeout': must be at most 1e9 seconds" in (
        one_line(result)
    )


# -- 23: a URL with a space or a control character ---------------------------------------------


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000 x", "http://127.0.0.1:8000\r\nX-Injected: 1", "http://a b/",
    "http://127.0.0.1:8000\n", "http://h\u202e/",
], ids=repr)
def test_a_url_with_a_space_or_a_control_is_bad_usage(fpx, url):
    result = fpx.fails(ExitCode.USAGE, "predict", "1", "--url", url)
    assert one_line(result) == (
        f"error: --url {url!r} is not a valid URL: it holds a space or a character that is not"
        " printable (CR, LF, ...)"
    )


# -- 23: the real error before the network warning ---------------------------------------------


def test_serve_on_a_host_that_is_no_address_says_so_and_only_that(fpx):
    result = fpx.fails(ExitCode.USAGE, "serve", "--host", "999.1.1.1")
    assert one_line(result).startswith("error: --host '999.1.1.1': ")
    assert "warning" not in result.stderr


# -- 21: output that cannot be written -----------------------------------------------------------


def run_fpx(*args: str, stdout=None, shell_suffix: str = "", env=None, timeout=60.0):
    """`python -m cli ARGS` in a process of its own (its stdout closed with shell_suffix=">&-")."""
    command = [sys.executable, "-m", "cli", *args]
    full_env = {**os.environ, **(env or {})}
    if shell_suffix:
        command = ["sh", "-c", f'exec "$@" {shell_suffix}', "sh", *command]
    return subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=full_env, timeout=timeout, check=False)


def test_stdout_closed_is_one_line_exit_1_and_nothing_done(fpx, server):
    before = len(fpx.json("items", "list", "--limit", "1000"))
    done = run_fpx("items", "add", "never-added", shell_suffix=">&-")
    assert done.returncode == ExitCode.FAILED
    assert done.stderr == "error: stdout is closed: nowhere to print the result; nothing was done\n"
    assert len(fpx.json("items", "list", "--limit", "1000")) == before


@pytest.mark.parametrize("mode", [{}, {"TTY_COMPATIBLE": "1"}], ids=["json", "terminal"])
def test_stdout_full_is_one_line_and_exit_1(fpx, mode):
    with open("/dev/full", "w") as full:
        done = run_fpx("predict", "1", stdout=full, env=mode)
    assert done.returncode == ExitCode.FAILED
    assert done.stderr == "error: cannot write the output: No space left on device\n"


def test_logs_to_a_full_stdout(fpx, state_dir):
    state_dir.mkdir()
    (state_dir / "server.log").write_text("a line\n")
    with open("/dev/full", "w") as full:
        done = run_fpx("logs", stdout=full)
    assert (done.returncode, done.stderr) == (
        ExitCode.FAILED, "error: cannot write the output: No space left on device\n"
    )


@pytest.mark.parametrize("detach", [False, True], ids=["foreground", "detached"])
def test_serve_to_a_full_stdout(fpx, state_dir, tmp_path, detach):
    env = {"FPX_SHUTDOWN_TIMEOUT": "0.5", "FPX_LOG_LEVEL": "warning"}
    args = ["serve", "--port", "0", "--db", str(tmp_path / "full.db")]
    try:
        with open("/dev/full", "w") as full:
            done = run_fpx(*args, *(["--detach"] if detach else []), stdout=full, env=env)
        assert done.returncode == ExitCode.FAILED, done.stderr
        lines = done.stderr.splitlines()
        at = lines.index("error: cannot write the output: No space left on device")
        if detach:  # the server runs, recorded: fpx stop stops it
            assert lines[at + 1].startswith("  the fpx server runs detached at http://127.0.0.1:")
            assert fpx.json("status")["ready"] is True
        else:
            assert lines[at + 1].startswith("  the fpx server (pid ")
            pid = int(lines[at + 1].split("pid ")[1].split(")")[0])
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
            assert fpx("status").exit_code == ExitCode.UNREACHABLE
    finally:
        fpx("stop")


# -- 21: server.log a directory ------------------------------------------------------------------


def test_a_server_log_that_is_a_directory(fpx, state_dir, held_port):
    (state_dir / "server.log").mkdir(parents=True)
    for args in (["serve", "--detach", "--port", str(held_port)], ["logs"]):
        result = fpx.fails(ExitCode.USAGE, *args)
        doing = "written" if args[0] == "serve" else "read"
        assert one_line(result) == (
            f"error: the server log {state_dir / 'server.log'} cannot be {doing}: is a directory"
        )
    assert fpx("status").exit_code == ExitCode.UNREACHABLE  # nothing was started


# -- 24: what answers where no server is recorded ----------------------------------------------


def test_status_names_an_fpx_server_fpx_did_not_start(fpx, server):
    # FPX_URL is the suite's server, started by the tests (as make serve would), not recorded
    for command in ("status", "stop"):
        result = fpx.fails(ExitCode.UNREACHABLE, command)
        assert result.stderr.splitlines() == [
            "error: no detached fpx server is running",
            f"  but an fpx server (ready) answers at {server.url}, one fpx did not start (make"
            " serve, python -m server): client commands use it; stop it where it runs",
        ]


def test_status_names_something_else(fpx, monkeypatch):
    with FakeServer({}) as fake:
        monkeypatch.setenv("FPX_URL", fake.url)
        result = fpx.fails(ExitCode.UNREACHABLE, "status")
    assert result.stderr.splitlines()[1] == (
        f"  something that is not an fpx server answers at {fake.url}; start fpx's elsewhere:"
        " fpx serve --detach --port 0"
    )


def test_serve_on_the_port_of_an_fpx_server_says_what_answers(fpx, server):
    result = fpx.fails(ExitCode.FAILED, "serve", "--port", str(server.port))
    assert result.stderr.splitlines() == [
        f"error: 127.0.0.1:{server.port} is already in use",
        "  an fpx server (ready) answers there, one fpx did not start (make serve, python -m"
        " server): use it, or pick another --port",
    ]


# -- 24: NO_COLOR -------------------------------------------------------------------------------


def invoke_coloured(*args: str, env: dict) -> str:
    """stderr of `fpx ARGS` as on a colour terminal (CliRunner's color=True)."""
    result = CliRunner().invoke(app, list(args), env=env, color=True)
    return result.stderr


def test_no_color_is_honoured_by_error_lines_and_remarks(fpx, free_url, tmp_path):
    plain_env = {"NO_COLOR": "1", "FPX_STATE_DIR": str(tmp_path / "file")}
    (tmp_path / "file").write_text("not a directory")
    coloured = invoke_coloured("predict", "1", "--url", free_url, env={"NO_COLOR": None})
    assert "\x1b[31m" in coloured  # red, without NO_COLOR
    assert "\x1b[" not in invoke_coloured("predict", "1", "--url", free_url, env=plain_env)
    # a warning (yellow) too: a client command with an unusable state directory
    warned = invoke_coloured("predict", "1", env={**plain_env, "FPX_URL": None})
    assert "warning:" in warned and "\x1b[" not in warned


def test_no_color_on_rich_output(fpx):
    env = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "120"}
    result = fpx("task", "list", "--limit", "1", env=env)
    assert result.exit_code == 0
    assert "\x1b[3" not in result.stdout  # no foreground colour (bold and dim may stay)
    with_colour = fpx("task", "submit", "--wait", "0", env={**env, "NO_COLOR": None})
    assert "\x1b[3" in with_colour.stdout


def test_json_output_escapes_every_control(fpx):
    with FakeServer({"/users/me": (200, {"username": "a\x1b\x9b\u202e\x07b"})}) as fake:
        result = fpx("users", "me", "--url", fake.url, "--json",
                     env={"TTY_COMPATIBLE": "1"})
    assert result.stdout == '{\n  "username": "a\\u001b\\u009b\\u202e\\u0007b"\n}\n'
    assert json.loads(result.stdout)["username"] == "a\x1b\x9b\u202e\x07b"

