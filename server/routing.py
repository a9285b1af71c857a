"""The route class of the API's routes: the refusals that come after routing, in their order.

Starlette's routing answers first: an unknown path 404, a wrong method 405. Then, on the
route, before FastAPI reads a body: a missing or wrong token 401, a body over the size limit
413, a body that is not JSON 415. Only then does FastAPI read and validate the request (422).
FastAPI reads a body before it solves any dependency, so these checks run in the route's
handler (FastAPI's documented custom `APIRoute`), not as dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()
        takes_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            state = request.app.state
            token: bytes | None = state.token
            if token is not None:
                from server.auth import check_token

                await check_token(request, token)
            if takes_body:
                request = checked_body(request, state.settings.max_body_size)
            return await handle(request)

        return guarded


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body is over the {limit}-byte limit")


def checked_body(request: Request, limit: int) -> Request:
    """413 for a declared length over `limit`, 415 for a body that is not declared JSON (no
    Content-Type included); the request, its body to be read up to `limit` bytes (413 past it,
    for a body sent without a length)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(limit)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not _is_json(media_type):
        given = f"unsupported content type {media_type!r}" if media_type else "no content type"
        raise HTTPException(415, f"{given}: send application/json")
    return Request(request.scope, _limited(request.receive, limit))


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # FastAPI passes an HTTPException raised while it reads the body on as it is.
                raise too_large(limit)
        return message

    return receive_limited
