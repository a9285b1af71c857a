"""`fpx serve` starts its server before it has parsed its own options.

Importing typer and building the command line take fpx ~35 ms; importing FastAPI, uvicorn and
the app take the server ~170 ms. Done one after the other, they add up; so for a command line
that looks like `fpx serve` (in the foreground), `begin` spawns `python -m server
--settings-stdin` at once, before typer is imported: that server does its imports on another CPU
while fpx parses, then waits for its FPX_* settings on stdin. The launcher hands them over with
`take` once the options are parsed and the port claimed.

A guess that turns out wrong costs only time, never correctness: the server is adopted only if
its environment is exactly the one it would have been started with, FPX_* settings apart (which
it reads after it is told them), and only for a foreground server. Otherwise, or if fpx exits
before adopting it (--help, bad usage, port in use), it is killed; if fpx is killed, it gets
SIGTERM (PR_SET_PDEATHSIG), and it exits at the end of its stdin anyway.

Standard library only. Every fpx command imports this module first, so it imports nothing
itself until a command line is found to be `fpx serve`: subprocess alone would cost ~5 ms.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

SERVER_COMMAND = (sys.executable, "-P", "-m", "server")
SETTINGS_STDIN = "--settings-stdin"  # python -m server's option (server/__main__.py)
SETTINGS_PREFIX = "FPX_"

# The root's options that take a value (cli/session.py; tests/cli/test_prestart.py checks),
# to find the command after them; and the options after which nothing is served in the
# foreground.
_ROOT_VALUE_OPTIONS = frozenset({"--url", "--request-timeout", "--token"})
_NOT_SERVING = frozenset({"-h", "--help", "--version", "-d", "--detach"})


class _Warm:
    def __init__(self, popen: subprocess.Popen[bytes], env: dict[str, str], started: float):
        self.popen = popen
        self.env = env
        self.started = started


_warm: _Warm | None = None


def server_env() -> dict[str, str]:
    """The environment of a server fpx starts, before its FPX_* settings are set.

    The server runs with -P (no current directory first on sys.path), so a `server` directory
    where fpx runs cannot shadow ours; the current directory still comes next, so models
    defined there (FPX_MODELS=m=mymodels:load) import as usual.
    """
    env = dict(os.environ)
    ours = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    paths = (ours, os.getcwd(), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn making the child get SIGTERM when we die (Linux's PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # we died between fork and prctl: nobody will signal it
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def serves_in_foreground(args: list[str]) -> bool:
    """Whether fpx's arguments look like `fpx [root options] serve [options]`, not detached."""
    rest = iter(args)
    for arg in rest:
        if arg in _ROOT_VALUE_OPTIONS:
            next(rest, None)
        elif arg == "--":
            return False
        elif not arg.startswith("-"):
            return arg == "serve" and _NOT_SERVING.isdisjoint(args)
    return False


def begin(args: list[str]) -> None:
    """Spawn the server now if `args` look like a foreground `fpx serve` (see the module)."""
    global _warm
    if _warm is not None or not serves_in_foreground(args):
        return
    import atexit
    import subprocess
    import time

    try:
        env = server_env()
        started = time.perf_counter()
        popen = subprocess.Popen(
            [*SERVER_COMMAND, SETTINGS_STDIN],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,  # as the launcher's: a terminal's Ctrl-C reaches fpx only
            preexec_fn=_as_the_launcher_spawns(die_with_parent()),
        )
    except (OSError, subprocess.SubprocessError):
        return  # the launcher will try again, and say what is wrong
    _warm = _Warm(popen, env, started)
    atexit.register(discard)


def stop_signals() -> tuple[int, ...]:
    """What fpx handles while a server of its runs (cli/launcher.py's StopOnSignals): Ctrl-C,
    a stop, a closed terminal. A function, so that `signal` (~4 ms) is imported when needed."""
    import signal

    return (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _as_the_launcher_spawns(then: Callable[[], None] | None) -> Callable[[], None]:
    """A preexec_fn giving the child the signal dispositions a server spawned later gets:
    by then fpx handles the stop signals, which exec resets to the default; now they may
    still be ignored (`nohup fpx serve`)."""
    import signal

    reset = stop_signals()

    def preexec() -> None:
        for sig in reset:
            signal.signal(sig, signal.SIG_DFL)
        if then is not None:
            then()

    return preexec


def take(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float] | None:
    """The prestarted server, now told its settings, if it was started with `env` apart from
    FPX_* settings, and when it was spawned (time.perf_counter()); else None."""
    import json

    global _warm
    warm, _warm = _warm, None
    if warm is None:
        return None
    settings = {k: v for k, v in env.items() if k.startswith(SETTINGS_PREFIX)}
    if warm.popen.poll() is not None or _without_settings(env) != _without_settings(warm.env):
        _kill(warm.popen)
        return None
    assert warm.popen.stdin is not None
    try:
        warm.popen.stdin.write(json.dumps(settings).encode() + b"\n")
        warm.popen.stdin.close()
    except OSError:  # it died meanwhile
        _kill(warm.popen)
        return None
    return warm.popen, warm.started


def discard() -> None:
    """Kill the prestarted server if it was not taken (at exit, or when not needed)."""
    global _warm
    warm, _warm = _warm, None
    if warm is not None:
        _kill(warm.popen)


def _without_settings(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(SETTINGS_PREFIX)}


def _kill(popen: subprocess.Popen[bytes]) -> None:
    import contextlib
    import signal

    if popen.returncode is None:  # once reaped, its pid may be another process's
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
    popen.wait()
    for stream in (popen.stdin, popen.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
