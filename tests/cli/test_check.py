"""`fpx check`: every endpoint of a server, a throwaway one unless --url is given."""

from __future__ import annotations

import json
import re

from cli.errors import ExitCode
from tests.cli.test_output import plain

KEYS = {"check", "ok", "expected", "got", "ms"}


def test_check_a_running_server(fpx, server):
    results = fpx.json("check", "--url", server.url)
    assert all(set(r) == KEYS for r in results)
    assert [r for r in results if not r["ok"]] == []
    names = {r["check"] for r in results}
    for name in ("ready", "predict x=3.5", "predict x=inf rejected", "users list", "items add",
                 "items get deleted", "task runs to the end", "task cancel", "task get unknown",
                 "jobs", "predict_batch runs to its result", "task bad args rejected"):
        assert name in names
    batch = next(r for r in results if r["check"] == "predict_batch runs to its result")
    assert batch["got"] == "succeeded [42.0, 105.0, -126.0]"


def test_check_starts_and_stops_a_throwaway_server(fpx, monkeypatch):
    monkeypatch.delenv("FPX_URL")  # not used by check anyway: only --url is
    result = fpx("check")
    assert result.exit_code == 0, result.output
    assert "checking a throwaway fpx server at http://127.0.0.1:" in result.stderr
    assert all(r["ok"] for r in json.loads(result.stdout))


def test_check_something_that_is_not_fpx_fails(fpx, html_url):
    result = fpx("check", "--url", html_url)
    assert result.exit_code == ExitCode.FAILED
    assert "checks failed" in result.stderr
    results = json.loads(result.stdout)
    assert not any(r["ok"] for r in results)


def test_check_nothing_is_exit_3(fpx, free_url):
    result = fpx.fails(ExitCode.UNREACHABLE, "check", "--url", free_url)
    assert f"no fpx server at {free_url}" in result.stderr


def test_check_table_on_a_terminal(fpx, server):
    env = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "140"}
    result = fpx("check", "--url", server.url, env=env)
    assert result.exit_code == 0, result.output
    header = plain(result.stdout).splitlines()[0].split()
    assert header == ["┃", "check", "┃", "expected", "┃", "got", "┃", "ms"]
    assert re.search(r"all \d+ checks passed", plain(result.stdout))
