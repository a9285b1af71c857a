"""The benchmark suite runs and writes its table; its parsers read the tools' output.

No timing is asserted: `make bench` measures, these tests only check that it can.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench import postgres
from bench.explanations import explain
from bench.load import parse_hey, parse_wrk
from bench.report import Row, Target
from bench.seed_app import app as seed_app
from server.dburl import redact
from tests import postgres as test_postgres

ROOT = Path(__file__).resolve().parents[2]

WRK = """Running 5s test @ http://127.0.0.1:8000/predict?x=3.5
  1 threads and 50 connections
  Latency Distribution
     50%    4.10ms
     99%  812.00us
  42090 requests in 5.00s, 8.99MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 2, write 0, timeout 0
Requests/sec:   8417.71
"""

HEY = """Summary:
  Requests/sec:\t1894.2311

Latency distribution:
  99% in 0.0311 secs

Status code distribution:
  [202]\t1990 responses
  [503]\t10 responses

Error distribution:
  [4]\tPost "http://127.0.0.1:1/tasks": dial tcp: connection refused
"""


def test_wrk_output_is_read():
    load = parse_wrk(WRK)
    assert load.requests_per_s == 8417.71
    assert load.p99_ms == 0.812
    assert (load.requests, load.errors) == (42090, 5)


def test_hey_output_is_read():
    load = parse_hey(HEY)
    assert load.requests_per_s == 1894.2311
    assert load.p99_ms == pytest.approx(31.1)
    assert (load.requests, load.errors) == (2004, 14)


def test_a_row_is_judged_on_its_ratio_or_its_own_limit():
    faster = Row("rps", "baseline", "req/s", Target(">=", 1.0), [9.0, 11.0, 10.0], [10.0, 10.0])
    assert (faster.fpx, faster.ratio, faster.verdict) == (10.0, 1.0, "met")
    growth = Row("growth", "-", "B/task", Target("<=", 256, "B/task"), [300.0])
    assert growth.verdict == "MISSED"
    assert Row("x", "-", "", skipped="no wrk").verdict == "skipped"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[str, str]:
    """One `python -m bench --quick` of the CLI, /predict and launch figures: its stdout and
    the RESULTS it wrote."""
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-install", "--only", "help,rps,launch",
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, out.read_text()


def table_rows(results: str) -> dict[tuple[str, str], list[str]]:
    """The Figures table of a RESULTS.md, by (figure, baseline): the row's cells."""
    rows = {}
    for line in results.split("## Figures", 1)[1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 7:
            rows[cells[0], cells[2]] = cells
    return rows


def assert_measured(cells: list[str]) -> None:
    fpx, baseline_value, ratio, result = cells[1], cells[3], cells[4], cells[6]
    assert "-" not in (fpx, baseline_value, ratio), cells
    assert result in ("met", "MISSED", "-"), cells


def test_a_quick_run_prints_and_writes_the_table(quick_run):
    stdout, results = quick_run
    assert "`fpx --help` wall time" in stdout
    assert "| figure | fpx | baseline | baseline value | ratio | target | result |" in results
    assert_measured(table_rows(results)["`fpx --help` wall time",
                                        "two-command Typer app `--help`"])
    assert "## Machine" in results and "fastapi " in results and "fastapi-cli " in results


RPS = "`/predict` requests/s through FastAPI's routing (1 worker, 50 connections)"


def test_predict_is_measured_against_the_seed_the_one_route_app_and_starlette(quick_run):
    rows = table_rows(quick_run[1])
    if shutil.which("wrk") is None and shutil.which("hey") is None:
        skipped = rows["`/predict` requests/s and p99", "-"]
        assert skipped[6] == "skipped: neither wrk nor hey is installed"
        return
    peers = {
        "the seed's app (bench/seed_app.py)": ">= 1 x",
        "one-route async FastAPI app": ">= 0.8 x",
        "bare Starlette app (a limit)": "-",
    }
    for baseline, target in peers.items():
        cells = rows[RPS, baseline]
        assert_measured(cells)
        assert cells[5] == target
    assert "the seed's app answers only" in quick_run[1]


def test_fpx_serve_is_measured_against_fastapi_run_on_the_seed_app(quick_run):
    rows = table_rows(quick_run[1])
    serve = rows["`fpx serve` launch -> ready",
                 "`fastapi run bench/seed_app.py` -> first answer of /predict"]
    assert_measured(serve)  # fastapi-cli is a test dependency: the row is never skipped here
    assert serve[5] == "<= 1.1 x"
    assert_measured(rows["`python -m server` launch -> ready",
                         "bare uvicorn + one-route app -> first answer"])
    assert not any("one CPU" in figure for figure, _ in rows)


def test_an_unknown_figure_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope", "--output", str(tmp_path / "r.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "unknown figures nope" in done.stderr


def test_the_seed_app_answers_as_the_blog_post_does():
    with TestClient(seed_app) as client:
        assert client.get("/predict", params={"x": 3.5}).json() == {"result": 147.0}
        assert client.get("/users/me").json() == {"username": "fakecurrentuser"}
        assert client.get("/users/rick").json() == {"username": "rick"}
        missing = client.get("/v/nope")
        assert (missing.status_code, missing.json()) == (404, {"detail": "Item not found"})
        assert client.post("/task", json={"wait_time": 0}).json() == "ok"
        assert client.get("/task/unknown").json() is None


# -- the PostgreSQL figures (bench/scale_figures.py) ----------------------------------------

PG_FIGURES = "pg-claim,pg-hosts,pg-submit,pg-wake"


def run_bench(only: str, output: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-install", "--only", only,
         "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, **env},
    )


def test_postgres_figures_say_why_they_are_skipped_and_never_show_the_password(tmp_path):
    out = tmp_path / "RESULTS.md"
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    unreachable = "postgresql://postgres:hunter2@127.0.0.1:1/postgres"
    done = run_bench(PG_FIGURES, out, FPX_BENCH_POSTGRES_URL=unreachable)
    assert done.returncode == 0, done.stderr
    results = out.read_text()
    rows = [cells for key, cells in table_rows(results).items() if key != ("figure", "baseline")]
    assert len(rows) == 4
    for cells in rows:
        assert cells[6].startswith("skipped: PostgreSQL at postgresql://postgres:***@127.0.0.1:1/")
    assert "hunter2" not in results + done.stdout + done.stderr


@pytest.fixture(scope="module")
def postgres_admin() -> str:
    """The tests' PostgreSQL server (FPX_TEST_POSTGRES_URL), where the bench creates its
    databases; skipped as the other PostgreSQL tests are when none answers (failed with
    FPX_TEST_POSTGRES=required)."""
    reason = test_postgres.unavailable()
    if reason is not None:
        message = f"PostgreSQL at {redact(test_postgres.SERVER_URL)} is unreachable ({reason})"
        if test_postgres.REQUIRED:
            pytest.fail(f"{message} (FPX_TEST_POSTGRES=required)", pytrace=False)
        pytest.skip(message)
    return test_postgres.SERVER_URL


def bench_databases(admin: str) -> set[str]:
    rows = postgres.query(admin, "SELECT datname FROM pg_database WHERE datname LIKE 'fpx_bench_%'")
    return {name for (name,) in rows}


def test_a_database_of_the_bench_is_created_and_dropped(postgres_admin):
    name = f"fpx_bench_test_{os.getpid()}"
    with postgres.database(name, postgres_admin) as url:
        assert postgres.query(url, "SELECT current_database()") == [(name,)]
    listed = postgres.query(postgres_admin, "SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,))
    assert listed == []


@pytest.fixture(scope="module")
def pg_run(postgres_admin, tmp_path_factory) -> tuple[str, str, set[str]]:
    """One `python -m bench --quick` of the four PostgreSQL figures: stdout, RESULTS, and the
    bench's databases it left (any there before it are not counted)."""
    out = tmp_path_factory.mktemp("bench-pg") / "RESULTS.md"
    before = bench_databases(postgres_admin)
    done = run_bench(PG_FIGURES, out, FPX_BENCH_POSTGRES_URL=postgres_admin)
    assert done.returncode == 0, done.stderr
    return done.stdout, out.read_text(), bench_databases(postgres_admin) - before


def test_the_postgres_figures_are_measured_against_their_baselines(pg_run):
    rows = table_rows(pg_run[1])
    expected = {  # (start of the figure, baseline): target
        ("claim rate: one worker drains 200", "procrastinate's worker, same server, "
         "concurrency and pool"): ">= 1 x",
        ("no-op tasks from `POST /tasks` to succeeded", "1 host, same PostgreSQL server"):
            ">= 1.3 x",
        ("`POST /tasks` (wait_time 0) submissions/s on PostgreSQL", "the same server on SQLite"):
            "-",
        ("a new task's wait from the 202 to `running` on an idle host",
         "the heartbeat interval"): "<= 50 ms",
    }
    for (start, baseline), target in expected.items():
        [cells] = [c for (figure, base), c in rows.items()
                   if figure.startswith(start) and base == baseline]
        assert_measured(cells)
        assert cells[5] == target
    assert not [f for f in rows if "skipped" in rows[f][6]]


def test_the_two_hosts_figure_shows_each_process_cpu_seconds(pg_run):
    note = next(line for line in pg_run[1].splitlines() if "tasks/s of 2 hosts" in line
                and line.startswith("- **"))
    for process in ("one-host", "host-a", "host-b", "PostgreSQL", "load generator"):
        assert f"{process} " in note
    assert "% of " in note
    assert "The database's active backends, sampled every 10 ms" in note


def test_the_two_hosts_row_when_missed_is_explained_from_its_profile():
    row = Row("no-op tasks from `POST /tasks` to succeeded, over HTTP: tasks/s of 2 hosts "
              "(4,000 a turn)", "1 host, same PostgreSQL server", "tasks/s", Target(">=", 1.3),
              [300.0], [310.0])
    [why] = [line for line in explain([row]) if line.startswith("- ")]
    assert "NOTIFY" in why and "not profiled yet" not in why


def test_no_database_of_the_bench_is_left_behind(pg_run):
    assert pg_run[2] == set()
