"""`python -m server`: serve the app on FPX_HOST:FPX_PORT.

`python -m server --settings-stdin` first imports the app, then reads its FPX_* settings from
stdin, one JSON object on one line, in place of any in its environment; at the end of stdin it
exits quietly. `fpx serve` starts it that way before it has parsed its own options, so that the
two start-ups overlap (cli/prestart.py).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import logging.config
import os
import sys

from server.logs import serve_log_config
from server.settings import Settings

log = logging.getLogger("fpx.server")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


SETTINGS_STDIN = "--settings-stdin"
USAGE = f"usage: python -m server [{SETTINGS_STDIN}]   (settings: FPX_* environment variables)"


def settings_from_stdin() -> bool:
    """Import the app, then replace FPX_* variables by those read from stdin; False at EOF."""
    import server.app  # noqa: F401  the slow part, done while fpx parses its options

    line = sys.stdin.buffer.readline()
    if not line.strip():
        return False
    given = json.loads(line)
    if not isinstance(given, dict) or not all(
        isinstance(k, str) and k.startswith("FPX_") and isinstance(v, str)
        for k, v in given.items()
    ):
        raise ValueError("not a JSON object of FPX_* names to strings")
    for name in [name for name in os.environ if name.startswith("FPX_")]:
        del os.environ[name]
    os.environ.update(given)
    return True


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    if args in (["-h"], ["--help"]):
        sys.stdout.write(f"{USAGE}\n")
        return 0
    if args not in ([], [SETTINGS_STDIN]):
        sys.stderr.write(f"fpx: unexpected arguments {' '.join(args)!r}\n{USAGE}\n")
        return 2
    import uvicorn
    from pydantic import ValidationError

    if args:
        try:
            if not settings_from_stdin():
                return 0
        except ValueError as exc:
            sys.stderr.write(f"fpx: bad settings on stdin: {exc}\n")
            return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.stderr.write(f"fpx: bad settings:\n{exc}\n")
        return 2
    if settings.jobs:
        from server.jobs import JobLoadError, JobRegistry

        try:  # here too, for one clear line: uvicorn shows a traceback for a failed factory
            JobRegistry.with_builtins(settings.jobs)
        except JobLoadError as exc:
            sys.stderr.write(f"fpx: {exc}\n")
            return 2
    log_config = serve_log_config(settings.log_level)
    logging.config.dictConfig(log_config)
    if settings.api_token is None and not is_loopback(settings.host):
        log.warning(
            "listening on %s without FPX_API_TOKEN: the API is open to the network", settings.host
        )
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if not settings.reload else None,
        reload=settings.reload,
        log_config=log_config,
        access_log=settings.log_level == "debug",
        # No route is a websocket: loading an implementation would cost start-up ~7 ms.
        ws="none",
        # A client that keeps its request open must not hold a stop up: after this long,
        # uvicorn drops open connections and the lifespan shut-down runs.
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
