"""Schemathesis against the live server's OpenAPI document: no 500, responses as documented.

Bounded: a fixed number of examples per operation with a fixed seed (derandomized), against
one server on loopback. The document is built from the same app factory at import, so that
pytest can collect one test per operation, and checked equal to what the live server serves
(schemathesis's lazy fixture loader relies on a pytest private that pytest 9.2 removed).
"""

from __future__ import annotations

import math

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from server.app import create_app
from server.settings import Settings
from tests.live import ServerProcess

TOKEN = "fuzz-token"
EXAMPLES = 100


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    env = {"FPX_API_TOKEN": TOKEN, "FPX_MAX_WAIT": "2", "FPX_LOG_LEVEL": "warning"}
    with ServerProcess(tmp_path_factory.mktemp("fuzz"), env) as server:
        yield server


DOCUMENT = create_app(Settings(api_token=TOKEN, max_wait=2, db="unused.db")).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_fuzzed_document_is_the_live_servers(live_server):
    import httpx

    assert httpx.get(live_server.url + "/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema_and_never_500s(case, live_server):
    # By contract, unknown query parameters are ignored, not refused; every other refusal
    # is asserted by test_bad_input.py.
    excluded = [schemathesis.checks.negative_data_rejection]
    if _float_wait_time(case.body) or _overflowing_prediction(case):
        excluded.append(schemathesis.checks.positive_data_acceptance)
    response = case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
        excluded_checks=excluded,
    )
    assert response.status_code < 500


def _float_wait_time(body: object) -> bool:
    """JSON Schema's "integer" admits 2.0; the contract refuses every JSON float (also asserted
    by test_bad_input.py), which no schema keyword can say: in the shorthand or in args."""
    if not isinstance(body, dict):
        return False
    args = body.get("args")
    nested = args.get("wait_time") if isinstance(args, dict) else None
    return isinstance(body.get("wait_time"), float) or isinstance(nested, float)


def _overflowing_prediction(case) -> bool:
    """An x whose prediction (x * 42) is not finite is refused with a 422, which no schema of
    x can say: its range depends on the model."""
    if case.path != "/predict" or not isinstance(case.query, dict):
        return False
    try:
        return not math.isfinite(float(case.query.get("x", 0)) * 42)
    except (TypeError, ValueError):
        return False
