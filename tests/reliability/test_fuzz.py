"""Schemathesis against the live server's OpenAPI document with every check it has
(`--checks all`) and every phase, the stateful one included: no 500, responses as
documented, schema-valid requests accepted and the others refused, authentication enforced,
a created resource there and a deleted one gone, sequences that follow the document's links.

It runs schemathesis's own CLI, as a user would: its stateful phase replays scenarios against
a server whose state moves on, which only its engine is built for (under pytest's API,
Hypothesis reports that as a flaky strategy). Bounded: a fixed number of examples per
operation and a fixed seed, against one server on loopback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest
from schemathesis import checks

from server.app import create_app
from server.settings import Settings
from tests.live import ServerProcess

TOKEN = "fuzz-token"
EXAMPLES = 100
SEED = 20261201
STEPS = 6

# Checks left out for one operation, each with why: {(operation, check): reason}. Empty now:
# every check runs on every operation. test_every_check_left_out_names_a_real_one keeps it
# honest.
LEFT_OUT: dict[tuple[str, str], str] = {}

# Answers a check takes for schema-valid data beyond its defaults, each with why.
ALSO_ACCEPTED = {
    # A model may refuse an x the schema calls valid (x * 42 overflows from 4.3e306 on, a
    # plug-in model raises ValueError): no schema of x can say which, the range depends on the
    # model. That 422 is documented on the operation (tests/reliability/test_models.py).
    # Whether a run sends such an x depends on its seed (schemathesis's pytest API did).
    ("GET /predict", "positive_data_acceptance"): ["2xx", "401", "403", "404", "409", "422"],
}

# Not run: max_response_time needs a time limit, and the suite makes no timed assertion (speed
# is measured in bench/, against peers).
NOT_RUN = {"max_response_time"}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    env = {"FPX_API_TOKEN": TOKEN, "FPX_MAX_WAIT": "2", "FPX_LOG_LEVEL": "warning"}
    with ServerProcess(tmp_path_factory.mktemp("fuzz"), env) as server:
        yield server


def _document() -> dict:
    return create_app(Settings(api_token=TOKEN, max_wait=2, db="unused.db")).openapi()


def _operations(document: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, ops in document["paths"].items()
            for method in ops}


def config_toml() -> str:
    """The run's schemathesis.toml: the token, and each exception above for its operation."""
    lines = [f"headers = {{ Authorization = {json.dumps('Bearer ' + TOKEN)} }}",
             f"phases.stateful.max-steps = {STEPS}"]
    per_operation: dict[str, list[str]] = {}
    for (operation, check), _ in LEFT_OUT.items():
        per_operation.setdefault(operation, []).append(f"checks.{check}.enabled = false")
    for (operation, check), statuses in ALSO_ACCEPTED.items():
        per_operation.setdefault(operation, []).append(
            f"checks.{check}.expected-statuses = {json.dumps(statuses)}"
        )
    for operation, settings in per_operation.items():
        lines += ["", "[[operations]]", f"include-name = {json.dumps(operation)}", *settings]
    return "\n".join(lines) + "\n"


def test_the_fuzzed_document_is_the_live_servers(live_server):
    assert httpx.get(live_server.url + "/openapi.json").json() == _document()


def test_every_check_left_out_names_a_real_one():
    known = {getattr(c, "__name__", type(c).__name__) for c in checks.CHECKS.get_all()}
    operations = _operations(_document())
    for operation, check in [*LEFT_OUT, *ALSO_ACCEPTED]:
        assert operation in operations and check in known, (operation, check)
    assert NOT_RUN.isdisjoint(known)  # a check of the registry is run by `--checks all`


def test_every_check_and_every_phase_pass(live_server, tmp_path):
    (tmp_path / "schemathesis.toml").write_text(config_toml())
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--no-color",
         "--config-file", str(tmp_path / "schemathesis.toml"),
         "run", live_server.url + "/openapi.json", "--checks", "all",
         "--phases", "examples,coverage,fuzzing,stateful",
         "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--request-timeout", "10",
         "--report", "json", "--report-json-path", str(tmp_path / "report.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-30000:] + done.stderr[-5000:]
    output = done.stdout
    assert f"{len(_operations(_document()))} selected" in output
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", output), (phase, output[-5000:])
    scenarios = re.search(r"Scenarios:\s+(\d+)", output)
    assert scenarios and int(scenarios.group(1)) > 0, output[-5000:]
