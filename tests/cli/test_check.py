"""`fpx check`: every endpoint of a server, a throwaway one unless --url is given."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading

import httpx

from cli import checks
from cli.errors import ExitCode
from tests.cli.conftest import one_line, server_env
from tests.cli.test_output import plain
from tests.helpers import wait_until

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


def _ids(server) -> tuple[set[str], set[int]]:
    """Every task and item id on the server."""
    tasks = {t["id"] for t in httpx.get(server.url + "/tasks", params={"limit": 1000}).json()}
    items = {i["id"] for i in httpx.get(server.url + "/items", params={"limit": 1000}).json()}
    return tasks, items


def test_check_with_a_url_removes_what_it_made(fpx, server):
    before = _ids(server)
    results = fpx.json("check", "--url", server.url)
    assert _ids(server) == before  # every task cancelled and deleted, the item deleted
    last = results[-1]
    assert (last["check"], last["ok"], last["got"]) == ("removes what it made", True,
                                                        "all removed")
    assert last["expected"] == "3 tasks and 0 items removed"


def test_failing_checks_still_remove_their_tasks(fpx, server, monkeypatch):
    # No time at all to see a task end: both task runs fail, their tasks still unfinished.
    monkeypatch.setattr(checks, "TASK_EXTRA_TIME", -1)
    before = _ids(server)
    result = fpx("check", "--url", server.url)
    assert result.exit_code == ExitCode.FAILED, result.output
    failed = {r["check"] for r in json.loads(result.stdout) if not r["ok"]}
    assert failed == {"task runs to the end", "predict_batch runs to its result"}
    assert _ids(server) == before


def test_ctrl_c_stops_the_checks_and_still_removes_their_tasks(fpx, server, monkeypatch):
    def interrupted(self, name, task, want, result):
        raise KeyboardInterrupt  # Ctrl-C while a submitted task runs

    monkeypatch.setattr(checks.Checks, "task_finishes", interrupted)
    before = _ids(server)
    result = fpx("check", "--url", server.url)
    assert result.exit_code == ExitCode.INTERRUPTED, result.output
    assert result.stdout == ""
    assert one_line(result) == "interrupted: removed what the checks made"
    assert _ids(server) == before


def test_sigterm_stops_the_checks_and_still_removes_their_tasks(server, tmp_path):
    before = _ids(server)
    env = {**os.environ, **server_env(tmp_path), "FPX_URL": server.url}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "check", "--url", server.url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        # Its first task exists and is followed for a second: stop it then.
        wait_until(lambda: len(_ids(server)[0] - before[0]) >= 1, 30, what="its first task")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted: removed what the checks made" in stderr
    assert _ids(server) == before


def test_check_help_says_it_writes(fpx):
    wide = {"COLUMNS": "200"}
    assert "(with --url, this writes to it)" in fpx.ok("--help", env=wide).stdout
    assert "write to that server's database" in fpx.ok("check", "--help", env=wide).stdout


class LongDetail(http.server.BaseHTTPRequestHandler):
    """A server that answers every request 404 with a long JSON detail."""

    DETAIL = "no such thing here, " * 20

    def do_GET(self):
        body = json.dumps({"detail": self.DETAIL}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_DELETE = do_GET

    def log_message(self, format, *args):
        pass


def test_json_got_values_are_whole(fpx):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LongDetail)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        result = fpx("check", "--url", f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    results = json.loads(result.stdout)
    alive = next(r for r in results if r["check"] == "alive")
    assert alive["got"] == f"404 {LongDetail.DETAIL}"
    assert not any("…" in r["got"] for r in results)
