"""`fpx jobs` and jobs through `fpx task`: HTTPie-style args, --time-limit, --job, follow."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import one_line, server_env
from tests.cli.test_output import TERMINAL, plain
from tests.live import ServerProcess

SAMPLE = "tests.server.sample_jobs"


def test_jobs_piped_is_the_servers_json(fpx):
    jobs = fpx.json("jobs")
    assert [j["name"] for j in jobs] == ["sleep", "predict_batch"]
    assert jobs[1]["runs"] == "async"
    assert jobs[1]["parameters"]["required"] == ["inputs"]


def test_jobs_on_a_terminal_is_a_table_of_parameters(fpx):
    out = plain(fpx.ok("jobs", env={**TERMINAL, "COLUMNS": "160"}).stdout)
    header, _, *rows = out.splitlines()
    assert [c.strip() for c in header.split("┃")] == ["job", "runs", "parameters", "description"]
    cells = [[c.strip() for c in row.split("│")] for row in rows]
    assert cells[0] == ["sleep", "async", "wait_time: integer",
                        "Wait wait_time seconds without holding a thread (the demo job)."]
    assert cells[1][:3] == ["predict_batch", "async", "inputs: array of number"]
    assert cells[2][:3] == ["", "", 'model: string = "answer_to_everything"']


def test_submit_a_job_with_httpie_args_and_follow_it(fpx):
    task = fpx.json("task", "submit", "predict_batch", "inputs:=[1, 2.5, -3]",
                    "model=answer_to_everything", "--follow")
    assert task["status"] == "succeeded" and task["job"] == "predict_batch"
    assert task["args"] == {"inputs": [1.0, 2.5, -3.0], "model": "answer_to_everything"}
    assert task["result"] == [42.0, 105.0, -126.0] and task["wait_time"] is None


def test_submit_without_a_job_is_sleep(fpx):
    task = fpx.json("task", "submit", "wait_time:=0", "--follow")
    assert task["job"] == "sleep" and task["result"] == "task done after 0"
    assert fpx.json("task", "submit", "sleep", "--wait", "0")["args"] == {"wait_time": 0}


@pytest.mark.parametrize(("args", "message"), [
    (["predict_batch", "inputs"], "error: ARG 'inputs' is not key=value (a string) or key:=json"
     " (any JSON)"),
    (["predict_batch", "inputs:=[1,"], "error: ARG 'inputs:=[1,': inputs:= needs a JSON value"),
    (["predict_batch", ":=[1]"], "error: ARG ':=[1]' has no key before its :="),
    (["predict_batch", "inputs:=[1]", "inputs:=[2]"], "error: ARG 'inputs:=[2]': inputs is given"
     " twice"),
    (["predict_batch", "inputs:=[1]", "--wait", "5"], "error: --wait is shorthand for"),
    (["wait_time:=1", "--wait", "5"], "error: --wait is shorthand for"),
])
def test_bad_args_are_usage_errors(fpx, args, message):
    result = fpx.fails(2, "task", "submit", *args)
    assert one_line(result).startswith(message)
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "job: unknown job 'nope'; known jobs: sleep, predict_batch"),
    (["predict_batch", "inputs=1"], "args.inputs: Input should be a valid array"),
    (["predict_batch", "inputs:=[1]", "model=nope"], "args.model: Unknown model 'nope'"),
    (["sleep", "wait_time=5"], "args.wait_time: Input should be a valid integer"),
])
def test_args_the_server_refuses_are_its_422(fpx, args, message):
    result = fpx.fails(1, "task", "submit", *args)
    assert one_line(result).startswith(f"error: 422 Unprocessable Entity: {message}")


def test_time_limit(fpx):
    result = fpx.fails(1, "task", "submit", "--wait", "60", "--time-limit", "0.5", "--follow")
    task = json.loads(result.stdout)
    assert task["time_limit"] == 0.5 and task["status"] == "failed"
    assert one_line(result) == f"error: task {task['id']} failed: time limit of 0.5 s exceeded"
    assert fpx.fails(2, "task", "submit", "--time-limit", "0").exit_code == 2


def test_list_by_job(fpx):
    task = fpx.json("task", "submit", "predict_batch", "inputs:=[1]", "--follow")
    listed = fpx.json("task", "list", "--job", "predict_batch", "--limit", "1000")
    assert task["id"] in [t["id"] for t in listed]
    assert {t["job"] for t in listed} == {"predict_batch"}


def test_follow_on_a_terminal_shows_the_jobs_note_then_its_result(fpx, tmp_path):
    env = server_env(tmp_path, FPX_JOBS=f"tick={SAMPLE}:tick")
    with ServerProcess(tmp_path, env) as own:
        result = fpx("task", "submit", "tick", "steps:=40", "delay:=0.05", "--follow",
                     "--url", own.url, env=TERMINAL)
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    bars = [line for line in out.splitlines() if "… running" in line]
    assert any("step " in bar for bar in bars), out  # the job's note beside the progress bar
    assert "result" in out and '"steps": 40' in out  # pretty JSON
