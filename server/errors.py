"""Domain exceptions turned into statuses, and the middleware that guards every request."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server.middleware import BodyGuardMiddleware, RequestIdMiddleware
from server.registry import UnknownModelError


async def unknown_model_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


def install_error_handling(app: FastAPI, max_body_size: int) -> None:
    app.add_exception_handler(UnknownModelError, unknown_model_handler)
    # Added last, so outermost: the request id is on every response, the guard's too.
    app.add_middleware(BodyGuardMiddleware, max_body_size=max_body_size)
    app.add_middleware(RequestIdMiddleware)
