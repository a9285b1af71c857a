"""Jobs through the API: registration, strict args, the task view, results, failures, limits."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.db import SCHEMA_VERSION, SQLiteStore
from server.jobs import JobLoadError, JobRegistry
from server.settings import Settings
from tests.server.test_api import finished

SAMPLE = "tests.server.sample_jobs"
JOBS = ",".join(
    f"{name}={SAMPLE}:{name}" for name in ("count", "explode", "not_json", "tick", "fetch")
)


@pytest.fixture
def jobs_client(any_settings: Settings):
    settings = any_settings  # both backends
    settings.jobs = JOBS
    settings.job_processes = 1
    with TestClient(create_app(settings)) as client:
        yield client


def submit(client: TestClient, job: str, **body) -> dict:
    r = client.post("/tasks", json={"job": job, **body})
    assert r.status_code == 202, r.text
    return r.json()


# -- registration -------------------------------------------------------------------------------


def test_get_jobs_lists_each_job_with_how_it_runs_and_its_parameters(jobs_client):
    jobs = {j["name"]: j for j in jobs_client.get("/jobs").json()}
    assert list(jobs)[:2] == ["sleep", "predict_batch"]
    assert {n: j["runs"] for n, j in jobs.items()} == {
        "sleep": "async", "predict_batch": "async", "count": "process", "explode": "process",
        "not_json": "process", "tick": "async", "fetch": "thread",
    }
    description = "Count to n in pure Python (CPU-bound), reporting progress."
    assert jobs["count"]["description"] == description
    count = jobs["count"]["parameters"]
    assert count["required"] == ["n"] and "ctx" not in count["properties"]
    assert count["properties"]["every"] == {"default": 1000, "title": "Every", "type": "integer"}
    model = jobs["predict_batch"]["parameters"]["properties"]["model"]
    assert model["enum"] == ["answer_to_everything"] and model["default"] == "answer_to_everything"


def test_openapi_shows_each_jobs_form_of_the_body(jobs_client):
    schemas = jobs_client.get("/openapi.json").json()["components"]["schemas"]
    forms = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas["TaskCreate"]["oneOf"]]
    assert forms[0] == "TaskCreateSleepShorthand"
    assert set(forms[1:]) == {f"TaskCreate_{n}" for n in (
        "sleep", "predict_batch", "count", "explode", "not_json", "tick", "fetch")}
    count = schemas["TaskCreate_count"]
    assert count["properties"]["job"]["const"] == "count"
    assert schemas["count_args"]["properties"]["n"]["type"] == "integer"
    assert schemas["sleep_args"]["properties"]["wait_time"]["maximum"] == 3600


@pytest.mark.parametrize(("entry", "reason"), [
    ("gone=no_such_module:fn", "ModuleNotFoundError: No module named 'no_such_module'"),
    (f"missing={SAMPLE}:nope", "AttributeError"),
    (f"number={SAMPLE}:NOT_A_FUNCTION", "TypeError: int is not a function"),
    (f"sleep={SAMPLE}:count", "a job of that name is already registered"),
    (f"bad/name={SAMPLE}:count", "is not a job name"),
])
def test_a_bad_job_entry_names_itself(entry, reason):
    with pytest.raises(JobLoadError) as caught:
        JobRegistry.with_builtins(Settings(jobs=entry).jobs)
    name, target = entry.split("=")
    assert str(caught.value).startswith(f"job {name!r} ({target}) cannot be registered: ")
    assert reason in str(caught.value)


def test_a_malformed_entry_is_a_settings_error():
    with pytest.raises(ValueError, match="job 'nomodule' is not of the form name=module:attr"):
        Settings(jobs="nomodule")


def test_the_server_refuses_to_start_with_a_bad_job_in_one_line(tmp_path):
    env = {"FPX_JOBS": "gone=no_such_module:fn", "FPX_DB": str(tmp_path / "fpx.db"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "server"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "fpx: job 'gone' (no_such_module:fn) cannot be registered: ModuleNotFoundError: "
        "No module named 'no_such_module'"
    ]


# -- submission: strict args, 422s that store nothing --------------------------------------------


@pytest.mark.parametrize(("body", "loc", "msg"), [
    ({"job": "nope"}, ["body", "job"], "unknown job 'nope'; known jobs: sleep, predict_batch"),
    ({"job": "predict_batch", "args": {}}, ["body", "args", "inputs"], "Field required"),
    ({"job": "predict_batch", "args": {"inputs": [1, "2"]}}, ["body", "args", "inputs", 1],
     "Input should be a valid number"),
    ({"job": "predict_batch", "args": {"inputs": [1], "x": 1}}, ["body", "args", "x"],
     "Extra inputs are not permitted"),
    ({"job": "predict_batch", "args": {"inputs": [1], "model": "nope"}},
     ["body", "args", "model"], "Unknown model 'nope'; loaded: answer_to_everything"),
    ({"job": "sleep", "args": {"wait_time": "5"}}, ["body", "args", "wait_time"],
     "Input should be a valid integer"),
    ({"job": "sleep", "args": {"wait_time": 3601}}, ["body", "args", "wait_time"],
     "Input should be less than or equal to 3600"),
    ({"wait_time": 5, "job": "sleep"}, ["body"], "give either wait_time"),
    ({"wait_time": 5, "args": {"wait_time": 5}}, ["body"], "give either wait_time"),
    ({"job": None}, ["body", "job"], "Input should be a valid string"),
    # Args belong to the job named beside them, as the schema says; never to sleep by default.
    ({"args": {"wait_time": 0}}, ["body", "job"], "Field required (with args)"),
    ({"wait_time": 1, "time_limit": 0}, ["body", "time_limit"], "greater than 0"),
    ({"wait_time": 1, "time_limit": "5"}, ["body", "time_limit"], "valid number"),
])
def test_bad_args_are_422_naming_the_field_and_store_nothing(client, body, loc, msg):
    r = client.post("/tasks", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["detail"][0]
    assert error["loc"] == loc and msg in error["msg"]
    assert client.get("/tasks").json() == []


@pytest.mark.parametrize("raw", [b"1e400", b"NaN", b"-Infinity"])
def test_a_non_finite_input_is_422(client, raw):
    body = b'{"job": "predict_batch", "args": {"inputs": [1, ' + raw + b"]}}"
    r = client.post("/tasks", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    error = r.json()["detail"][0]
    assert error["loc"] == ["body", "args", "inputs", 1] and "finite" in error["msg"]
    assert client.get("/tasks").json() == []


def test_the_shorthand_and_the_full_form_are_the_same_task(client):
    short = client.post("/tasks", json={"wait_time": 0}).json()
    full = submit(client, "sleep", args={"wait_time": 0})
    for task in (short, full):
        assert task["job"] == "sleep" and task["args"] == {"wait_time": 0}
        assert task["wait_time"] == 0 and task["time_limit"] is None
        assert finished(client, task["id"])["result"] == "task done after 0"


# -- running: results, progress, failures --------------------------------------------------------


def test_predict_batch_runs_the_model_over_every_input(client):
    task = submit(client, "predict_batch", args={"inputs": [1, 2.5, -3]})
    assert task["args"] == {"inputs": [1.0, 2.5, -3.0], "model": "answer_to_everything"}
    assert task["wait_time"] is None
    done = finished(client, task["id"])
    assert done["status"] == "succeeded"
    assert done["result"] == [42.0, 105.0, -126.0] and done["progress"] == 1.0


def test_an_input_the_model_refuses_fails_the_batch_naming_the_model(client):
    task = submit(client, "predict_batch", args={"inputs": [1, 1e308]})  # 42e308 is inf
    done = finished(client, task["id"])
    assert done["status"] == "failed" and done["result"] is None
    assert done["error"] == (
        "ModelInputError: model 'answer_to_everything' gives a non-finite result for this x"
    )


def test_an_async_job_reports_progress_and_its_message(jobs_client):
    task = submit(jobs_client, "tick", args={"steps": 100, "delay": 0.02})

    def partial():
        t = jobs_client.get(f"/tasks/{task['id']}").json()
        return t if t["status"] == "running" and 0 < t["progress"] < 1 else None

    running = wait_for(partial, "progress below 1")
    assert running["message"].startswith("step ")
    done = finished(jobs_client, task["id"])
    assert done["result"] == {"steps": 100, "task": task["id"]}
    assert done["progress"] == 1.0 and done["message"] == "step 100"


def test_an_async_job_past_its_time_limit_fails_saying_so(jobs_client):
    task = submit(jobs_client, "tick", args={"steps": 1000, "delay": 0.05}, time_limit=0.5)
    assert task["time_limit"] == 0.5
    done = finished(jobs_client, task["id"])
    assert done["status"] == "failed" and done["error"] == "time limit of 0.5 s exceeded"
    assert 0 < done["progress"] < 1


def test_the_default_time_limit_comes_from_the_settings(settings):
    settings.job_time_limit = 0.3
    with TestClient(create_app(settings)) as client:
        task = client.post("/tasks", json={"wait_time": 60}).json()
        assert task["time_limit"] == 0.3
        assert finished(client, task["id"])["error"] == "time limit of 0.3 s exceeded"


def test_a_thread_job_runs_and_is_cancelled_through_its_context(jobs_client):
    done = finished(jobs_client, submit(jobs_client, "fetch", args={"seconds": 0})["id"])
    assert done["status"] == "succeeded" and done["message"] == "fetched"
    task = submit(jobs_client, "fetch", args={"seconds": 60})
    wait_for(lambda: jobs_client.get(f"/tasks/{task['id']}").json()["status"] == "running",
             "it to run")
    assert jobs_client.post(f"/tasks/{task['id']}/cancel").json()["status"] == "cancelled"
    assert finished(jobs_client, task["id"])["status"] == "cancelled"


def test_list_tasks_by_job(jobs_client):
    sleep = jobs_client.post("/tasks", json={"wait_time": 0}).json()["id"]
    tick = submit(jobs_client, "tick", args={"steps": 1})["id"]
    assert [t["id"] for t in jobs_client.get("/tasks", params={"job": "tick"}).json()] == [tick]
    assert [t["id"] for t in jobs_client.get("/tasks", params={"job": "sleep"}).json()] == [sleep]
    assert jobs_client.get("/tasks", params={"job": "nope"}).json() == []


# -- the migration from schema version 1 ---------------------------------------------------------

VERSION_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (username TEXT PRIMARY KEY);
CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    description TEXT, created_at REAL NOT NULL);
CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT NOT NULL, wait_time INTEGER NOT NULL,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    progress REAL NOT NULL DEFAULT 0, result TEXT, error TEXT, worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE workers (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
    started_at REAL NOT NULL, heartbeat_at REAL NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO users VALUES ('Rick'), ('Morty');
"""


def test_a_version_1_database_keeps_its_tasks(db_path, settings):
    done, pending = str(uuid.uuid4()), str(uuid.uuid4())
    now = time.time()
    with sqlite3.connect(db_path) as conn:
        conn.executescript(VERSION_1)
        conn.execute(
            "INSERT INTO tasks (id, status, wait_time, created_at, started_at, finished_at,"
            " progress, result, attempts) VALUES (?, 'succeeded', 5, ?, ?, ?, 1.0,"
            " 'task done after 5', 1)", (done, now - 10, now - 9, now - 4))
        conn.execute("INSERT INTO tasks (id, status, wait_time, created_at) VALUES"
                     " (?, 'pending', 0, ?)", (pending, now - 3))
    conn.close()
    with TestClient(create_app(settings)) as client:
        task = client.get(f"/tasks/{done}").json()
        assert task["job"] == "sleep" and task["args"] == {"wait_time": 5}
        assert task["wait_time"] == 5 and task["result"] == "task done after 5"
        assert task["status"] == "succeeded" and task["message"] is None
        # The pending one runs as the sleep job it was.
        assert finished(client, pending)["result"] == "task done after 0"
        assert client.get("/users/Rick").status_code == 200
    with sqlite3.connect(db_path) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    conn.close()
    assert int(version[0]) == SCHEMA_VERSION == 2


@pytest.mark.anyio
async def test_a_migrated_database_opens_again_unchanged(db_path):
    with sqlite3.connect(db_path) as conn:
        conn.executescript(VERSION_1)
    conn.close()
    for _ in range(2):
        store = SQLiteStore(db_path)
        await store.open()
        task = await store.create_task(str(uuid.uuid4()), "predict_batch", {"inputs": [1.0]}, 10)
        assert task.job == "predict_batch" and task.args == {"inputs": [1.0]}
        await store.close()


def wait_for(probe, what: str, timeout: float = 10.0):
    from tests.helpers import wait_until

    return wait_until(probe, timeout, what=what)


def test_the_documented_example_module_registers_and_runs(settings, monkeypatch):
    """docs/jobs.md's example, so that the docs cannot rot."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "docs" / "examples"))
    settings.jobs = "primes=myjobs:count_primes,words=myjobs:count_words,countdown=myjobs:countdown"
    settings.job_processes = 1
    with TestClient(create_app(settings)) as client:
        runs = {j["name"]: j["runs"] for j in client.get("/jobs").json()}
        assert (runs["primes"], runs["words"], runs["countdown"]) == ("process", "thread", "async")
        done = finished(client, submit(client, "primes", args={"below": 100})["id"])
        assert done["result"] == {"below": 100, "primes": 25}
        readme = Path(__file__).resolve().parents[2] / "docs" / "jobs.md"
        done = finished(client, submit(client, "words", args={"path": str(readme)})["id"])
        assert done["status"] == "succeeded" and len(done["result"]) == 3


def _integer_fields(document: dict) -> list[tuple[str, dict, list[str]]]:
    """Every integer field of every POST /tasks body form the OpenAPI document publishes, as
    (form, a valid body, the path of the field in it): the walk finds a new job's ints too."""
    schemas = document["components"]["schemas"]
    filler = {"integer": 1, "number": 0.5, "string": "x", "array": [], "boolean": False}
    found = []
    for ref in schemas["TaskCreate"]["oneOf"]:
        form = ref["$ref"].rsplit("/", 1)[1]
        props = schemas[form]["properties"]
        body: dict = {}
        fields: list[list[str]] = []
        if "job" in props:
            body["job"] = props["job"]["const"]
            args_schema = schemas[props["args"]["$ref"].rsplit("/", 1)[1]]
            body["args"] = {name: filler[p["type"]] for name, p in args_schema["properties"].items()
                            if name in args_schema.get("required", ())}
            fields += [["args", name] for name, p in args_schema["properties"].items()
                       if p.get("type") == "integer"]
        else:
            body = {name: filler[p["type"]] for name, p in props.items()
                    if name in schemas[form]["required"]}
            fields += [[name] for name, p in props.items() if p.get("type") == "integer"]
        found += [(form, body, path) for path in fields]
    return found


def _with(body: dict, path: list[str], value: object) -> dict:
    changed = {**body, **({"args": {**body["args"]}} if "args" in body else {})}
    (changed["args"] if len(path) == 2 else changed)[path[-1]] = value
    return changed


def test_every_integer_field_takes_a_whole_valued_number_as_the_schema_says(jobs_client):
    """JSON Schema's integer admits 2.0: so does every int of a request body, and 2.5, "2",
    true and null are refused as before (issue 11, item 14)."""
    fields = _integer_fields(jobs_client.get("/openapi.json").json())
    assert {(form, path[-1]) for form, _, path in fields} >= {
        ("TaskCreateSleepShorthand", "wait_time"), ("TaskCreate_sleep", "wait_time"),
        ("TaskCreate_count", "n"), ("TaskCreate_count", "every"), ("TaskCreate_tick", "steps"),
    }
    for form, body, path in fields:
        r = jobs_client.post("/tasks", json=_with(body, path, 2.0))
        assert r.status_code == 202, (form, path, r.text)
        stored = r.json()["args"] if len(path) == 2 else r.json()
        assert type(stored[path[-1]]) is int and stored[path[-1]] == 2, (form, path)
        for refused in (2.5, "2", True, None):
            r = jobs_client.post("/tasks", json=_with(body, path, refused))
            assert r.status_code == 422, (form, path, refused, r.text)
            assert r.json()["detail"][0]["loc"][-1] == path[-1], (form, path, refused)
