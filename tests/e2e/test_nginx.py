"""docs/examples/nginx.conf, the file docs/scale-out.md gives, in front of two fpx hosts that
share one PostgreSQL database: nginx accepts it, both hosts take requests through it, request
ids pass, and requests still succeed through it while one host is stopped.

Skipped when nginx is not installed (Debian: apt-get install nginx-light), failed instead
with FPX_TEST_NGINX=required (as .ci/run sets, installing it). Only the example's ports are
changed, to free ones on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import wait_until
from tests.live import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "nginx.conf"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")

# Read at import: each test runs with the FPX_* variables cleared (tests/conftest.py).
REQUIRED = os.environ.get("FPX_TEST_NGINX", "").lower() == "required"
MISSING = "nginx is not installed (Debian: apt-get install nginx-light)"


@pytest.fixture(autouse=True)
def _nginx_installed() -> None:
    """Skipped without nginx; failed instead with FPX_TEST_NGINX=required (as .ci/run sets)."""
    if NGINX is None:
        if REQUIRED:
            pytest.fail(f"{MISSING} (FPX_TEST_NGINX=required)", pytrace=False)
        pytest.skip(MISSING)

HOST_ENV = {"FPX_HEARTBEAT_INTERVAL": "0.2", "FPX_SHUTDOWN_TIMEOUT": "1",
            "FPX_DB_POOL_SIZE": "4"}


def site_for(ports: list[int], listen: int) -> str:
    """The example, its two hosts and its listening port replaced."""
    site = EXAMPLE.read_text()
    for example, port in zip(("127.0.0.1:8001", "127.0.0.1:8002"), ports, strict=True):
        assert example in site
        site = site.replace(example, f"127.0.0.1:{port}")
    assert "listen 8000;" in site
    return site.replace("listen 8000;", f"listen 127.0.0.1:{listen};")


def main_config(tmp: Path, site: Path) -> Path:
    """A main nginx.conf of the test's own (its files in `tmp`) that includes the site, as
    Debian's /etc/nginx/nginx.conf includes conf.d/*.conf inside `http`."""
    config = tmp / "nginx.conf"
    temp = " ".join(f"{kind}_temp_path {tmp / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config.write_text(
        f"daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log {tmp / 'access.log'};\n  {temp}\n  include {site};\n}}\n"
    )
    return config


@contextlib.contextmanager
def nginx(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    assert NGINX is not None
    check = subprocess.run([NGINX, "-t", "-c", str(config)], capture_output=True, text=True,
                           timeout=30, check=False)
    assert check.returncode == 0, check.stderr  # `nginx -t`, as the example says to run
    proc = subprocess.Popen([NGINX, "-c", str(config)], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # nginx's fast shut-down
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()


def posts_answered(host: ServerProcess) -> float:
    """How many POST /tasks this host answered 202, from its own /metrics."""
    text = httpx.get(host.url + "/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fpx_http_requests_total"
        and sample.labels == {"method": "POST", "route": "/tasks", "status": "202"}
    )


def test_the_example_nginx_config_balances_two_hosts_on_one_database(tmp_path, postgres_url):
    env = {**HOST_ENV, "FPX_DB": postgres_url}
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(ServerProcess(tmp_path / "a", env))
        b = stack.enter_context(ServerProcess(tmp_path / "b", env))
        listen = free_port()
        site = tmp_path / "fpx.conf"
        site.write_text(site_for([a.port, b.port], listen))
        stack.enter_context(nginx(main_config(tmp_path, site)))
        front = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{listen}",
                                                 timeout=10))
        wait_until(lambda: _answers(front, "/readyz"), 20, what="nginx to proxy /readyz")

        # Submitted through nginx, read back through nginx: whichever host answers.
        ids = []
        for _ in range(20):
            r = front.post("/tasks", json={"wait_time": 0})
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        for task_id in ids:
            wait_until(lambda t=task_id: front.get(f"/tasks/{t}").json()["status"]
                       == "succeeded", 20, what=f"task {task_id} to succeed")
        assert posts_answered(a) > 0 and posts_answered(b) > 0
        assert posts_answered(a) + posts_answered(b) == 20

        # A client's request id comes back as sent; nginx gives one to a request without.
        mine = front.get("/livez", headers={"X-Request-ID": "from-the-client-1"})
        assert mine.headers["x-request-id"] == "from-the-client-1"
        assert front.get("/livez").headers.get("x-request-id")

        # One host stopped: nginx sends everything to the other, and nothing fails.
        b.stop()
        for task_id in ids:
            r = front.get(f"/tasks/{task_id}")
            assert (r.status_code, r.json()["status"]) == (200, "succeeded")
        for _ in range(5):
            assert front.post("/tasks", json={"wait_time": 0}).status_code == 202


def _answers(client: httpx.Client, path: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return client.get(path).status_code == 200
    return False
