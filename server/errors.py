"""Error handling: request ids, domain exceptions turned into statuses, and the last-resort 500.

Every response carries `X-Request-ID`. An unexpected exception is logged with its traceback and
answers 500 `{"detail": "internal server error", "request_id": ...}`; the client never sees the
exception itself.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.registry import UnknownModelError

log = logging.getLogger("fpx.errors")

REQUEST_ID_HEADER = b"x-request-id"
# A client may send its own id; only a short, printable one is kept (it goes into logs).
_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware, which costs a task per request): tags each response
    with the request id and turns an unhandled exception into a logged, clean 500."""

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
            request_id = uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error in %s %s (request %s)",
                scope.get("method"), scope.get("path"), request_id.decode(),
            )
            if started:
                raise
            body = json.dumps(
                {"detail": "internal server error", "request_id": request_id.decode()}
            ).encode()
            await send({
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER, request_id),
                ],
            })
            await send({"type": "http.response.body", "body": body})


async def unknown_model_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


def install_error_handling(app: FastAPI) -> None:
    app.add_exception_handler(UnknownModelError, unknown_model_handler)
    app.add_middleware(RequestIdMiddleware)
