"""The global options: the same before the command, between a group and its command, and after
it; refused with exit 2 where they do not apply, never silently ignored."""

from __future__ import annotations

import pytest

from cli.errors import ExitCode
from tests.cli.conftest import one_line

# (command, an option it does not take, with its value); fpx serve on a port in use, so that
# it could never start a server if the option were ignored
REFUSED = [
    (["serve", "--port", "{held}"], ["--url", "http://127.0.0.1:1"]),
    (["serve", "--port", "{held}", "--detach"], ["--request-timeout", "3"]),
    (["status"], ["--url", "http://127.0.0.1:1"]),
    (["stop"], ["--url", "http://127.0.0.1:1"]),
    (["stop"], ["--token", "t"]),
    (["stop"], ["--request-timeout", "3"]),
    (["logs"], ["--json"]),
    (["logs"], ["--url", "http://127.0.0.1:1"]),
]


@pytest.mark.parametrize(("command", "option"), REFUSED, ids=[
    f"{c[0]} {o[0]}" for c, o in REFUSED
])
@pytest.mark.parametrize("where", ["before", "after"])
def test_an_option_that_does_not_apply_is_refused(
    fpx, state_dir, held_port, command, option, where
):
    command = [arg.format(held=held_port) for arg in command]
    args = [*option, *command] if where == "before" else [*command, *option]
    result = fpx.fails(ExitCode.USAGE, *args)
    name = command[0]
    assert one_line(result) == (
        f"error: fpx {name}: {option[0]} does not apply to this command (see: fpx {name} --help)"
    )
    assert not state_dir.exists()  # and nothing was started


@pytest.mark.parametrize("group", [["users", "me"], ["items", "list"], ["task", "list"]],
                         ids=" ".join)
def test_options_between_a_group_and_its_command(fpx, server, monkeypatch, free_url, group):
    monkeypatch.delenv("FPX_URL")
    name, command = group
    assert fpx.json(name, "--url", server.url, command) is not None
    assert fpx.json(name, "--url", server.url, "--json", "--request-timeout", "2", command) \
        is not None
    # Later wins: the root's, then the group's, then the command's.
    assert fpx.json("--url", free_url, name, "--url", server.url, command) is not None
    result = fpx.fails(ExitCode.UNREACHABLE, name, "--url", server.url, command, "--url",
                       free_url)
    assert free_url in result.stderr


def test_status_and_stop_take_json_before_or_after(fpx):
    for args in (["--json", "status"], ["status", "--json"], ["--json", "stop"],
                 ["stop", "--json"]):
        fpx.fails(ExitCode.UNREACHABLE, *args)  # none runs: exit 3, not 2
