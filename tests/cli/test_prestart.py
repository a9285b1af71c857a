"""cli/prestart.py: which command lines start the server early, and when it is not adopted."""

from __future__ import annotations

import httpx
import pytest
import typer.main

from cli import prestart
from cli.launcher import probe_ready
from cli.main import app
from tests.helpers import wait_until
from tests.live import free_port


@pytest.mark.parametrize(("args", "early"), [
    (["serve"], True),
    (["serve", "--port", "0", "--model", "m=mod:load"], True),
    (["--json", "serve"], True),
    (["--token", "t0ken", "--request-timeout", "3", "serve"], True),
    (["--url=http://127.0.0.1:1", "serve"], True),
    (["--url", "serve", "predict", "3.5"], False),  # "serve" is --url's value
    (["serve", "--detach"], False),
    (["serve", "-d"], False),
    (["serve", "--help"], False),
    (["serve", "-h"], False),
    (["--version", "serve"], False),
    (["--help"], False),
    (["predict", "3.5"], False),
    (["--", "serve"], False),
    ([], False),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_which_command_lines_start_the_server_early(args, early):
    assert prestart.serves_in_foreground(args) is early


def _option_names(command, *, taking_a_value: bool) -> set[str]:
    return {
        name
        for param in command.params
        if param.param_type_name == "option" and param.is_flag is not taking_a_value
        for name in (*param.opts, *param.secondary_opts)
    }


def test_the_root_options_it_skips_are_the_apps():
    root = typer.main.get_command(app)
    assert set(prestart._ROOT_VALUE_OPTIONS) == _option_names(root, taking_a_value=True)


def test_the_options_that_serve_nothing_in_the_foreground_are_the_apps():
    root = typer.main.get_command(app)
    serve = root.load("serve")
    detach = next(p for p in serve.params if p.name == "detach")
    help_names = set(root.context_settings["help_option_names"])
    assert {*detach.opts, *help_names, "--version"} == set(prestart._NOT_SERVING)


@pytest.fixture
def prestarted():
    """Prestart a server in this process, as `fpx serve` does; it is killed at the end whatever
    happened. (Called in the test itself: pytest changes PYTEST_CURRENT_TEST between a
    fixture's set-up and the test, and a changed environment is not adopted.)"""
    started = []

    def begin():
        prestart.begin(["serve"])
        assert prestart._warm is not None
        started.append(prestart._warm.popen)
        return started[-1]

    yield begin
    prestart.discard()
    for popen in started:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def test_a_server_started_with_another_environment_is_not_adopted(prestarted):
    warm = prestarted()
    env = prestart.server_env()
    env["FPX_PORT"] = str(free_port())
    env["PYTHONHASHSEED"] = "1" if env.get("PYTHONHASHSEED") != "1" else "2"
    assert prestart.take(env) is None
    assert warm.poll() is not None  # killed, not left waiting
    assert prestart.take(env) is None  # and forgotten


def test_fpx_settings_alone_may_differ_and_are_handed_over(prestarted, tmp_path):
    warm = prestarted()
    env = prestart.server_env()
    env.update(FPX_PORT=str(free_port()), FPX_DB=str(tmp_path / "handed.db"),
               FPX_LOG_LEVEL="warning", FPX_MAX_WAIT="7")
    taken = prestart.take(env)
    assert taken is not None and taken[0] is warm
    port = int(env["FPX_PORT"])
    wait_until(lambda: probe_ready("127.0.0.1", port) is not None or warm.poll() is not None,
               timeout=30, what="the handed-over server to be ready")
    # It runs with the settings it was handed: their database, their max_wait.
    assert (tmp_path / "handed.db").exists()
    url = f"http://127.0.0.1:{port}/tasks"
    assert httpx.post(url, json={"wait_time": 8}).status_code == 422
    assert httpx.post(url, json={"wait_time": 0}).status_code == 202


def test_a_server_not_taken_is_killed_by_discard(prestarted):
    warm = prestarted()
    prestart.discard()
    assert warm.poll() is not None
