"""The outside tools the benchmarks use, installed when missing and possible.

wrk, hey and curl come from Debian's packages (apt-get, when running as root); HTTPie and
fastapi-cli come from PyPI with fpx's `bench` extra (`make bench` installs it). What cannot be
had is said once, and the figures that need it are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

DEBIAN_TOOLS = ("wrk", "hey", "curl")


def ensure_debian_tools(say: Callable[[str], None]) -> None:
    missing = [t for t in DEBIAN_TOOLS if shutil.which(t) is None]
    if not missing:
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        say(
            f"missing {', '.join(missing)}: install them (Debian: apt-get install -y "
            f"{' '.join(missing)}); the figures that need them are skipped"
        )
        return
    say(f"installing {', '.join(missing)} with apt-get")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            say(f"{' '.join(argv)} failed ({done.stderr.strip()[-300:]}); skipping what needs it")
            return
    still = [t for t in missing if shutil.which(t) is None]
    if still:
        say(f"apt-get did not provide {', '.join(still)}; the figures that need them are skipped")


def bench_extra_script(name: str, say: Callable[[str], None]) -> str | None:
    """A command of a package of the bench extra: the one next to this Python (the venv's),
    else one on PATH; None, said once per call, when there is neither."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        say(f"`{name}` is missing: pip install -e '.[bench]' (make bench does); skipping its rows")
    return found


def httpie(say: Callable[[str], None]) -> str | None:
    """HTTPie's `http`."""
    return bench_extra_script("http", say)


def fastapi_cli(say: Callable[[str], None]) -> str | None:
    """fastapi-cli's `fastapi`. Installed on its own, without fastapi-cloud-cli (whose commands
    it would load when present), it makes no request of its own: no telemetry, no update check
    (read in its source, 0.0.34); `fastapi run` only binds the --host it is given."""
    if importlib.util.find_spec("fastapi_cloud_cli") is not None:
        say("fastapi-cloud-cli is installed (its commands are not checked for network traffic): "
            "skipping the `fastapi run` row")
        return None
    return bench_extra_script("fastapi", say)


def version_of(argv: list[str]) -> str:
    """The first line a tool prints about its version, or why there is none."""
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def debian_version(package: str) -> str:
    if shutil.which("dpkg-query") is None:
        return "unknown"
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else "not installed"
