"""What `fpx` imports: a client command and --help load none of the server's stack."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

PROBE = """
import json, sys
from cli.main import main
args, out = json.loads(sys.argv[1]), sys.argv[2]
sys.argv = ["fpx", *args]
try:
    main()
except SystemExit:
    pass
with open(out, "w") as f:
    json.dump(sorted(sys.modules), f)
"""
# The server's stack and httpx: a client command needs neither (typer itself imports pydantic
# to parse values).
HEAVY = ("fastapi", "starlette", "uvicorn", "server", "httpx", "sqlite3", "anyio")


def imported(tmp_path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), str(out)],
                   capture_output=True, timeout=60, check=True)
    return set(json.loads(out.read_text()))


def roots(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("args", [
    ["--help"],
    ["--version"],
    ["predict", "3.5"],
    ["task", "get", str(uuid.uuid4())],
    ["items", "list", "--limit", "1"],
], ids=" ".join)
def test_no_server_stack_and_no_progress_bar(tmp_path, server, args):
    modules = imported(tmp_path, "--url", server.url, *args)
    assert roots(modules).isdisjoint(HEAVY), roots(modules) & set(HEAVY)
    assert "rich.progress" not in modules


def test_serve_imports_no_server_stack_nor_httpx_before_it_spawns(tmp_path, held_port):
    # What `fpx serve` does before the spawn delays the server: on a port in use it stops right
    # after parsing its options and checking the port, where it would spawn. httpx (its
    # readiness poll) comes after the spawn, alongside the server's own start-up.
    modules = imported(tmp_path, "serve", "--port", str(held_port), "--db",
                       str(tmp_path / "x.db"), "--model", "a=m:f", "--model", "b=m:g",
                       "--max-wait", "9")
    assert "cli.commands.serve" in modules
    assert roots(modules).isdisjoint(HEAVY), roots(modules) & set(HEAVY)


def test_json_output_does_not_import_rich(tmp_path, server):
    modules = imported(tmp_path, "--url", server.url, "predict", "3.5")  # stdout is a pipe
    assert "rich" not in roots(modules)
    assert "http.client" in modules  # the command did run


def test_a_command_imports_its_own_module_only(tmp_path, server):
    assert not any(m.startswith("cli.commands") for m in imported(tmp_path, "--help"))
    modules = imported(tmp_path, "--url", server.url, "predict", "3.5")
    assert {m for m in modules if m.startswith("cli.commands.")} == {"cli.commands.predict"}
