"""HTTP load from wrk or hey (Debian's packages), parsed into requests/s, p99 and errors.

wrk is preferred for timed GET load (lowest overhead per request); hey sends a fixed number of
POSTs, which wrk cannot. Both run on the benchmark's own CPUs, away from the server's.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from bench.procs import BenchError, run_tool

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p99_ms: float | None
    requests: int
    errors: int  # non-2xx answers and socket errors


def load_tool() -> str | None:
    """The timed-load generator on this machine: wrk, else hey, else None."""
    return next((t for t in ("wrk", "hey") if shutil.which(t)), None)


def timed_get(tool: str, url: str, connections: int, seconds: float) -> Load:
    """`connections` connections sending GET `url` back to back for `seconds`."""
    if tool == "wrk":
        # wrk takes whole seconds only.
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
        return parse_wrk(run_tool(argv, timeout=seconds + 30))
    argv = ["hey", "-z", f"{seconds:g}s", "-c", str(connections), url]
    return parse_hey(run_tool(argv, timeout=seconds + 30))


def counted_post(url: str, body: str, requests: int, connections: int) -> Load:
    """Exactly `requests` POSTs of a JSON `body`, `connections` at a time (hey)."""
    if not shutil.which("hey"):
        raise BenchError("hey is not installed")
    argv = [
        "hey", "-n", str(requests), "-c", str(connections), "-m", "POST",
        "-T", "application/json", "-d", body, url,
    ]
    return parse_hey(run_tool(argv, timeout=120))


def parse_wrk(text: str) -> Load:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    if rps is None or total is None:
        raise BenchError(f"cannot read wrk's output:\n{text}")
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return Load(
        requests_per_s=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)] if p99 else None,
        requests=int(total.group(1)),
        errors=errors,
    )


def parse_hey(text: str) -> Load:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rps is None:
        raise BenchError(f"cannot read hey's output:\n{text}")
    p99 = re.search(r"99%+ in ([\d.]+) secs", text)
    ok = bad = 0
    for status, count in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text):
        if status.startswith("2"):
            ok += int(count)
        else:
            bad += int(count)
    errors_section = text.partition("Error distribution:")[2]
    bad += sum(int(n) for n in re.findall(r"\[(\d+)\]\s", errors_section))
    return Load(
        requests_per_s=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * 1000 if p99 else None,
        requests=ok + bad,
        errors=bad,
    )
