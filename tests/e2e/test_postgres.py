"""`fpx serve` on a PostgreSQL URL, as a user runs it: `fpx check` passes against it, and the
URL's password shows nowhere (the ready panel, `fpx status`, the server's log)."""

from __future__ import annotations

import json
import signal

from server.dburl import redact
from tests.e2e.conftest import run
from tests.server.test_postgres import SECRET, with_password


def test_fpx_check_passes_against_a_postgres_backed_server(workdir, env, serve, postgres_url):
    url = with_password(postgres_url)
    server = serve("--db", url)
    ready = server.ready()
    assert ready["db"] == redact(url) and SECRET not in json.dumps(ready)

    result = run(workdir, env, "check", "--url", ready["url"], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout)
    assert len(results) >= 25 and all(r["ok"] for r in results), [
        r for r in results if not r["ok"]
    ]

    status = run(workdir, env, "status")
    assert status.returncode == 0, status.stderr
    assert redact(url) in status.stdout and SECRET not in status.stdout + status.stderr

    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    assert SECRET not in server.stderr() and "fpx stopped" in server.stderr()
