"""The benchmark suite runs and writes its table; its parsers read the tools' output.

No timing is asserted: `make bench` measures, these tests only check that it can.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import parse_hey, parse_wrk
from bench.report import Row, Target

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


def test_a_quick_run_prints_and_writes_the_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-install", "--only", "help",
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "`fpx --help` wall time" in done.stdout
    text = out.read_text()
    assert "| figure | fpx | baseline | baseline value | ratio | target | result |" in text
    assert "| `fpx --help` wall time |" in text
    assert "## Machine" in text and "fastapi " in text


def test_an_unknown_figure_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nope", "--output", str(tmp_path / "r.md")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "unknown figures nope" in done.stderr
