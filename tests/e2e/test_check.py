"""`fpx check` as a user runs it: a throwaway server, checked, then stopped."""

from __future__ import annotations

import json

from tests.e2e.conftest import processes_in, run


def test_fpx_check_passes_and_leaves_nothing(workdir, env):
    result = run(workdir, env, "check", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout)
    assert len(results) >= 25
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    assert processes_in(workdir) == []
