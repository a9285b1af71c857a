"""Pure ASGI middleware (no BaseHTTPMiddleware, which costs a task per request).

RequestIdMiddleware tags every response with `X-Request-ID` and turns an unhandled exception
into a logged, clean 500. BodyGuardMiddleware refuses, before any endpoint reads them, bodies
over the size limit (413) and bodies that are not JSON (415); both answer `{"detail": ...}`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("fpx.errors")

REQUEST_ID_HEADER = b"x-request-id"
# A client may send its own id; only a short, printable one is kept (it goes into logs).
_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


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
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            rid = request_id.decode()
            log.exception(
                "unhandled error in %s %s (request %s): %s", scope["method"], scope["path"],
                rid, exc,
            )
            if started:
                raise
            await send_json(
                send, 500, {"detail": "internal server error", "request_id": rid},
                [(REQUEST_ID_HEADER, request_id)],
            )


class BodyTooLarge(Exception):
    pass


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        length: int | None = None
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
        limit = self.max_body_size
        if length is not None and length > limit:
            await self._too_large(send)
            return
        if content_type and content_type != b"application/json" and not (
            content_type.startswith(b"application/") and content_type.endswith(b"+json")
        ):
            await send_json(send, 415, {
                "detail": f"unsupported content type {content_type.decode(errors='replace')!r}:"
                " send application/json"
            })
            return
        received = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    # Answer now: FastAPI would turn any error raised while it reads the body
                    # into a vague 400. What the app sends after this is dropped.
                    refused = True
                    if not started:
                        await self._too_large(send)
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)

    async def _too_large(self, send: Send) -> None:
        await send_json(
            send, 413, {"detail": f"request body is over the {self.max_body_size}-byte limit"}
        )
