"""Every failure a user can cause: one line on stderr, no traceback, the documented exit code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.errors import ExitCode
from tests.cli.conftest import one_line, server_env
from tests.live import ServerProcess

USAGE = [
    (["predict", "abc"], "fpx predict: Invalid value for 'X'"),
    (["predict"], "fpx predict: Missing argument 'X'"),
    (["predict", "1", "--bogus"], "unexpected extra argument"),
    (["task", "get", "not-a-uuid"], "fpx task get: Invalid value for 'ID'"),
    (["task", "cancel", "12"], "fpx task cancel: Invalid value for 'ID'"),
    (["task", "wait", "x"], "fpx task wait: Invalid value for 'ID'"),
    (["task", "submit", "--wait", "-1"], "Invalid value for '--wait'"),
    (["task", "submit", "--wait", "1.5"], "Invalid value for '--wait'"),
    (["task", "submit", "--id", "nope"], "Invalid value for '--id'"),
    (["task", "list", "--status", "done"], "Invalid value for '--status'"),
    (["task", "list", "--limit", "0"], "Invalid value for '--limit'"),
    (["items", "get", "-1"], "fpx items get: Invalid value for 'ID'"),
    (["items", "get", "0"], "fpx items get: Invalid value for 'ID'"),
    (["items", "get", "abc"], "fpx items get: Invalid value for 'ID'"),
    (["items", "delete", "-7"], "fpx items delete: Invalid value for 'ID'"),
    (["items", "list", "--limit", "1001"], "Invalid value for '--limit'"),
    (["items", "list", "--offset", "-1"], "Invalid value for '--offset'"),
    (["--request-timeout", "0", "predict", "1"], "must be more than 0 seconds"),
    (["nosuch"], "No such command 'nosuch'"),
    (["--bogus", "predict", "1"], "No such option: --bogus"),
    (["serve", "--port", "70000"], "Invalid value for '--port'"),
    (["serve", "--model", "nonsense"], "--model 'nonsense' is not of the form NAME=module:attr"),
    (["serve", "--log-level", "loud"], "Invalid value for '--log-level'"),
]


@pytest.mark.parametrize(("args", "message"), USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_bad_usage_is_one_line_and_exit_2(fpx, args, message):
    result = fpx.fails(ExitCode.USAGE, *args)
    assert message in one_line(result)


@pytest.mark.parametrize("url", ["foo", "127.0.0.1:8000", "ftp://host/", "http://", "http://h:x/"])
def test_a_url_that_is_not_one_is_bad_usage(fpx, url):
    result = fpx.fails(ExitCode.USAGE, "predict", "1", "--url", url)
    assert one_line(result) == f"error: --url {url!r} is not a URL like http://127.0.0.1:8000"


def test_a_bad_fpx_url_is_named(fpx, monkeypatch):
    monkeypatch.setenv("FPX_URL", "nope")
    result = fpx.fails(ExitCode.USAGE, "models")
    assert "FPX_URL 'nope' is not a URL" in one_line(result)


def test_no_server_is_exit_3_with_the_hint(fpx, free_url):
    result = fpx.fails(ExitCode.UNREACHABLE, "predict", "1", "--url", free_url)
    assert result.stderr.splitlines()[0] == (
        f"error: no fpx server at {free_url} - start one with `fpx serve`"
    )


def test_a_server_too_slow_is_exit_3(fpx, silent_url):
    result = fpx.fails(ExitCode.UNREACHABLE, "health", "--url", silent_url,
                       "--request-timeout", "0.3")
    assert "did not answer GET /livez within 0.3 s (--request-timeout bounds the whole" in (
        one_line(result)
    )


def test_something_that_is_not_fpx_is_exit_1(fpx, html_url):
    result = fpx.fails(ExitCode.FAILED, "predict", "1", "--url", html_url)
    assert one_line(result) == (
        f"error: {html_url} is not an fpx server: it answered 404 with text/html;charset=utf-8,"
        " not JSON"
    )


@pytest.fixture(scope="module")
def token_server(tmp_path_factory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("token-server")
    env = server_env(workdir, FPX_API_TOKEN="s3cret-token")
    with ServerProcess(workdir, env) as live:
        yield live


def test_a_token_server_without_the_token_is_401_with_a_hint(fpx, token_server):
    result = fpx.fails(ExitCode.FAILED, "predict", "1", "--url", token_server.url)
    assert result.stderr.splitlines() == [
        "error: 401 Unauthorized: missing or invalid bearer token"
        " (send Authorization: Bearer <FPX_API_TOKEN>)",
        "  this server needs an API token: pass --token or set FPX_API_TOKEN",
    ]
    assert "s3cret" not in result.output


def test_the_token_from_the_option_or_the_environment(fpx, token_server, monkeypatch):
    url = token_server.url
    assert fpx.json("predict", "1", "--url", url, "--token", "s3cret-token")["result"] == 42.0
    assert fpx.json("--token", "s3cret-token", "--url", url, "users", "me")["username"]
    result = fpx.fails(ExitCode.FAILED, "predict", "1", "--url", url, "--token", "wrong")
    assert result.stderr.splitlines()[1:] == [
        "  the server refused the API token: check --token or FPX_API_TOKEN"
    ]
    monkeypatch.setenv("FPX_API_TOKEN", "s3cret-token")
    assert fpx.json("models", "--url", url)[0]["name"] == "answer_to_everything"


def test_health_needs_no_token(fpx, token_server):
    assert fpx.json("health", "--url", token_server.url)["readyz"]["status"] == "ready"


BAD_TOKENS = ["s3cret\r", "s3cret\n", "sécret€", "two words", "tab\there", "del\x7f"]


@pytest.mark.parametrize("token", BAD_TOKENS, ids=repr)
def test_a_token_that_cannot_be_sent_is_refused_without_showing_it(fpx, token, monkeypatch):
    def refused(source: str, *args: str) -> None:
        result = fpx.fails(ExitCode.USAGE, *args)
        assert one_line(result) == (
            f"error: {source} is not a usable API token: only visible ASCII characters, without"
            " spaces or control characters (the token is not shown)"
        )
        for shown in (token, token.strip(), repr(token), "s3cret", "cret"):
            assert shown not in result.output

    refused("--token", "--token", token, "predict", "1")
    refused("--token", "users", "me", "--token", token)
    monkeypatch.setenv("FPX_API_TOKEN", token)
    refused("FPX_API_TOKEN", "predict", "1")
    refused("FPX_API_TOKEN", "status")


@pytest.mark.parametrize("token", BAD_TOKENS, ids=repr)
def test_serve_refuses_such_a_token(fpx, token, monkeypatch, held_port):
    port = str(held_port)  # were the token let through, serve would fail on the port
    for args in (["serve", "--token", token], ["--token", token, "serve"]):
        result = fpx.fails(ExitCode.USAGE, *args, "--port", port)
        assert "--token is not a usable API token" in one_line(result)
        assert token not in result.output
    monkeypatch.setenv("FPX_API_TOKEN", token)
    result = fpx.fails(ExitCode.USAGE, "serve", "--port", port, "--detach")
    assert "FPX_API_TOKEN is not a usable API token" in one_line(result)


def test_a_password_in_the_url_is_never_shown(fpx, free_url, monkeypatch):
    with_password = free_url.replace("http://", "http://rick:pickle-pw@")
    shown = free_url.replace("http://", "http://rick:***@")
    result = fpx.fails(ExitCode.UNREACHABLE, "predict", "1", "--url", with_password)
    assert result.stderr.splitlines()[0] == (
        f"error: no fpx server at {shown} - start one with `fpx serve`"
    )
    result = fpx.fails(ExitCode.USAGE, "predict", "1", "--url", "http://rick:pickle-pw@h:x/")
    assert one_line(result) == (
        "error: --url 'http://rick:***@h:x/' is not a URL like http://127.0.0.1:8000"
    )
    monkeypatch.setenv("FPX_URL", "http://rick:pickle-pw@h/?q")
    result = fpx.fails(ExitCode.USAGE, "health")
    assert one_line(result) == (
        "error: FPX_URL 'http://rick:***@h/?q' must not have a query or fragment"
    )
    for result in (fpx("check", "--url", with_password), fpx("health", "--url", with_password)):
        assert "pickle-pw" not in result.output
