"""`python -m server`: serve the app on FPX_HOST:FPX_PORT, configured by FPX_* variables.

`fpx serve` starts the server this way too, with its options passed as those variables.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import logging.config
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

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


USAGE = "usage: python -m server   (settings: FPX_* environment variables)"
# uvicorn's exit code for a start-up that did not complete.
STARTUP_FAILURE = 3
BACKLOG = 2048


class PortUnavailable(Exception):
    pass


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything else starts.

    uvicorn binds a single worker's socket only after the lifespan start-up has run: a second
    server on a busy port would start a task runner, claim the live server's pending tasks and
    end them interrupted before it found the port taken. Listening at once also keeps the
    port: another socket with SO_REUSEADDR can bind it until one listens.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn does: a restart may bind while the last run's connections linger.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (is another server running there?)"
        raise PortUnavailable(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.set_inheritable(True)  # worker processes serve it too
    return sock


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    if args in (["-h"], ["--help"]):
        sys.stdout.write(f"{USAGE}\n")
        return 0
    if args:
        sys.stderr.write(f"fpx: unexpected arguments {' '.join(args)!r}\n{USAGE}\n")
        return 2
    import uvicorn
    from pydantic import ValidationError

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
    log_config = serve_log_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    if settings.api_token is None and not is_loopback(settings.host):
        log.warning(
            "listening on %s without FPX_API_TOKEN: the API is open to the network", settings.host
        )
    try:
        sock = listen(settings.host, settings.port)
    except PortUnavailable as exc:
        # Nothing started, nothing to undo: this is the last line the server prints.
        log.error("%s; nothing was started", exc)
        return STARTUP_FAILURE
    with _metrics_shared_by_workers(settings):
        return _run(uvicorn, settings, log_config, sock)


@contextlib.contextmanager
def _metrics_shared_by_workers(settings: Settings) -> Iterator[None]:
    """With several workers, a folder where each writes its metrics, so that a scrape of any
    worker counts them all (prometheus-client's multiprocess mode), removed at the end. Set
    before uvicorn starts the workers: prometheus-client reads it when it is imported."""
    if not settings.metrics or settings.workers < 2 or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        yield
        return
    folder = tempfile.mkdtemp(prefix="fpx-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(uvicorn: Any, settings: Settings, log_config: dict, sock: socket.socket) -> int:
    """Serve on `sock`, the socket bound before anything started, as uvicorn.run would (its
    Config, Server and supervisors, given the socket; uvicorn.run's own `fd=` would take it
    for a Unix socket, and leave Nagle's algorithm on: 40 ms per keep-alive request)."""
    from uvicorn.supervisors import ChangeReload, Multiprocess

    config = uvicorn.Config(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if not settings.reload else None,
        reload=settings.reload,
        log_config=log_config,
        # The access lines are fpx's own (server/middleware.py: with the request id, the route
        # and the duration), logged at debug.
        access_log=False,
        # No route is a websocket: loading an implementation would cost start-up ~7 ms.
        ws="none",
        # Connections are bounded (a 503 past the limit) and idle ones closed; what a slow
        # client can still hold is in docs/reliability.md.
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout,
        # A client that keeps its request open must not hold a stop up: after this long,
        # uvicorn drops open connections and the lifespan shut-down runs.
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    server = uvicorn.Server(config)
    if config.should_reload:
        ChangeReload(config, target=server.run, sockets=[sock]).run()
    elif config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        config.load_app()
        server.run(sockets=[sock])
        if not server.started:
            return STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
