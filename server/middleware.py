"""The one pure ASGI middleware every request goes through (no BaseHTTPMiddleware, which costs
a task per request; one layer, not one per concern, since each layer is a call and a wrapped
`send` per request).

In its order: it gives the request its id (`X-Request-ID` on every response, and in the log
context of every line logged for the request), refuses a path with a control character (404,
before routing), runs the app, turns an unhandled exception into a logged, clean 500, counts
and times the request by the route template that answered it (when metrics are on), and logs
the access line (FPX_LOG_LEVEL=debug). The refusals of a request's body (413, 415) come after
routing and the token, in the route (server/routing.py).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import logs

log = logging.getLogger("fpx.errors")
access_log = logging.getLogger("fpx.access")

REQUEST_ID_HEADER = b"x-request-id"
# A client may send its own id; only a short, printable one is kept (it goes into logs).
_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# C0 controls and DEL, decoded from the path's percent-escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The route of a request no route matched: its path is not a metrics label, or any client
# could create a time series per path it makes up.
UNMATCHED = "<unmatched>"

# Counts one answered request: method, route template (or UNMATCHED), status, seconds.
Observe = Callable[[str, str, int, float], None]


async def send_json(send: Send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            *(headers or []),
        ],
    })
    await send({"type": "http.response.body", "body": data})


def route_template(scope: Scope) -> str | None:
    """The template of the route that answered the request (`/items/{item_id}`), once the app
    has routed it; None when no route matched."""
    return getattr(scope.get("route"), "path_format", None)


class RequestMiddleware:
    """Request id, path guard, clean 500, metrics and access line: see the module's docstring.
    `observe` is called once per request that reached the app (Metrics.observe_request), or
    None when metrics are off."""

    def __init__(self, app: ASGIApp, observe: Observe | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                if _CLIENT_ID.match(value):
                    request_id = value
                break
        if not request_id:
            # Unique, not secret: no urandom syscall, which gives up the GIL on every request.
            request_id = b"%032x" % random.getrandbits(128)
        rid = request_id.decode()
        context = logs.request_id.set(rid)  # every line logged for this request carries it
        began = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        # Starlette's route patterns end in `$`, which also matches before a final newline, so
        # /livez%0A was /livez and /users/%0A the user list: no route may see such a path. A
        # path that names no resource is not counted either.
        observe = self.observe
        try:
            if _CONTROL.search(scope["path"]):
                observe = None
                await send_json(send_with_id, 404, {"detail": "Not Found"})
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception(
                "unhandled error in %s %s (request %s): %s", scope["method"], scope["path"],
                rid, exc,
            )
            if status:
                raise
            status = 500
            await send_json(
                send, 500, {"detail": "internal server error", "request_id": rid},
                [(REQUEST_ID_HEADER, request_id)],
            )
        finally:
            seconds = time.perf_counter() - began
            if observe is not None:
                # 500 when the app raised before it answered: what the client gets.
                observe(scope["method"], route_template(scope) or UNMATCHED, status or 500,
                        seconds)
            if access_log.isEnabledFor(logging.DEBUG):
                _log_request(scope, status, seconds)
            logs.request_id.reset(context)


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    """The access line (FPX_LOG_LEVEL=debug): method, route template, status, duration."""
    route = route_template(scope) or scope["path"]
    ms = round(seconds * 1000, 3)
    access_log.debug(
        "%s %s %d %.1f ms", scope["method"], route, status, ms,
        extra={"method": scope["method"], "route": route, "status": status, "duration_ms": ms},
    )
