"""Shell completion as a shell asks for it: commands, options, and task ids from the server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx

from cli import completion
from tests.helpers import wait_until


def complete(words: str, **env: str) -> list[str]:
    """What bash completion offers for the command line `words` (the last word incomplete)."""
    done = subprocess.run(
        [sys.executable, "-m", "cli"], capture_output=True, text=True, timeout=60,
        env={**os.environ, **env, "_FPX_COMPLETE": "complete_bash", "COMP_WORDS": words,
             "COMP_CWORD": str(len(words.split(" ")) - 1)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.split()


def test_commands_and_options_complete():
    assert complete("fpx ta") == ["task"]
    assert complete("fpx task ca") == ["cancel"]
    assert complete("fpx task de") == ["delete"]
    assert "--port" in complete("fpx serve --po")


def test_task_ids_come_from_the_server(server):
    task = httpx.post(server.url + "/tasks", json={"wait_time": 0}).json()
    offered = complete(f"fpx task get {task['id'][:6]}", FPX_URL=server.url)
    assert task["id"] in offered
    assert all(i.startswith(task["id"][:6]) for i in offered)
    # --url on the command line wins over the environment.
    offered = complete(f"fpx task wait --url {server.url} {task['id'][:6]}",
                       FPX_URL="http://127.0.0.1:1")
    assert task["id"] in offered


def test_cancel_offers_unfinished_tasks_and_delete_finished_ones(server):
    done = httpx.post(server.url + "/tasks", json={"wait_time": 0}).json()["id"]
    going = httpx.post(server.url + "/tasks", json={"wait_time": 60}).json()["id"]
    try:
        wait_until(lambda: httpx.get(f"{server.url}/tasks/{done}").json()["status"]
                   == "succeeded", 10, what="the short task to finish")
        to_cancel = complete("fpx task cancel ", FPX_URL=server.url)
        to_delete = complete("fpx task delete ", FPX_URL=server.url)
        assert going in to_cancel and done not in to_cancel
        assert done in to_delete and going not in to_delete
    finally:
        httpx.post(f"{server.url}/tasks/{going}/cancel")


def test_without_a_server_nothing_is_offered_and_nothing_is_said(free_url):
    assert complete("fpx task get ", FPX_URL=free_url) == []


def test_only_values_of_the_right_shape_reach_the_shell(monkeypatch):
    good = str(uuid.uuid4())
    monkeypatch.setattr(completion, "_ask", lambda ctx, path, params=None: [
        {"id": good}, {"id": "x\n; rm -rf ~"}, {"id": 7}, "not a task", {"id": f"{good}\x1b]0;t"},
    ])
    assert completion.task_ids(None, "") == [good]
    monkeypatch.setattr(completion, "_ask", lambda ctx, path, params=None: {"not": "a list"})
    assert completion.task_ids(None, "") == []


def test_job_names_then_their_parameters_complete(server):
    assert complete("fpx task submit pre", FPX_URL=server.url) == ["predict_batch"]
    assert set(complete("fpx task submit predict_batch ", FPX_URL=server.url)) == {
        "inputs:=", "model="  # a list is JSON; the model's name is a string
    }
    given = complete("fpx task submit predict_batch inputs:=[1] ", FPX_URL=server.url)
    assert given == ["model="]  # what was given is not offered again
