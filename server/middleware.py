"""Pure ASGI middleware (no BaseHTTPMiddleware, which costs a task per request).

RequestIdMiddleware tags every response the app sends with `X-Request-ID` and turns an
unhandled exception into a logged, clean 500. PathGuardMiddleware refuses a path with a control
character. The refusals of a request's body (413, 415) come
after routing and the token, in the route (server/routing.py).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import logs

log = logging.getLogger("fpx.errors")
access_log = logging.getLogger("fpx.access")

REQUEST_ID_HEADER = b"x-request-id"
# A client may send its own id; only a short, printable one is kept (it goes into logs).
_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# C0 controls and DEL, decoded from the path's percent-escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
        began = time.perf_counter() if access_log.isEnabledFor(logging.DEBUG) else None
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
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
            if began is not None:
                _log_request(scope, status, time.perf_counter() - began)
            logs.request_id.reset(context)


def route_template(scope: Scope) -> str | None:
    """The template of the route that answered the request (`/items/{item_id}`), once the app
    has routed it; None when no route matched."""
    return getattr(scope.get("route"), "path_format", None)


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    """The access line (FPX_LOG_LEVEL=debug): method, route template, status, duration."""
    route = route_template(scope) or scope["path"]
    ms = round(seconds * 1000, 3)
    access_log.debug(
        "%s %s %d %.1f ms", scope["method"], route, status, ms,
        extra={"method": scope["method"], "route": route, "status": status, "duration_ms": ms},
    )


class PathGuardMiddleware:
    """A path with a control character names no resource: 404 before routing.

    Starlette's route patterns end in `$`, which also matches before a final newline, so
    /livez%0A was /livez and /users/%0A the user list; no route may see such a path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL.search(scope["path"]):
            await send_json(send, 404, {"detail": "Not Found"})
            return
        await self.app(scope, receive, send)
