"""Domain exceptions turned into statuses (the middleware every request goes through is in
server/middleware.py)."""

from __future__ import annotations

import itertools
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from server.registry import ModelInputError, UnknownModelError
from server.store import StoreUnavailable

# How long a client refused for an unavailable database should wait before trying again.
STORE_RETRY_AFTER = 1

# How many errors a 422 lists, the rest counted: the first few show the problem, and listing
# thousands cost more than the request deserved.
ERRORS_SHOWN = 10
# How much of a refused input a 422 echoes back: enough to see the problem, not the whole body.
ECHO_STRING = 200
ECHO_ITEMS = 20
ECHO_DEPTH = 4


def _echoable(value: Any, depth: int = 0) -> Any:
    """A refused input as JSON can carry it: valid JSON may hold what JSON output cannot
    (1e400 parses to inf, "\\ud800" to a lone surrogate), so FastAPI's own handler answered 500
    for those. Long strings and big or deep containers are cut short."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= ECHO_STRING else value[:ECHO_STRING] + "..."
        return text.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict | list | tuple):
        if depth >= ECHO_DEPTH:
            return "..."
        # islice: a body of 8,000 keys is cut without copying them all first.
        if isinstance(value, dict):
            items = itertools.islice(value.items(), ECHO_ITEMS)
            return {_echoable(str(k), depth + 1): _echoable(v, depth + 1) for k, v in items}
        return [_echoable(v, depth + 1) for v in itertools.islice(value, ECHO_ITEMS)]
    return value


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, `{"detail": [errors]}`, made safe to encode for any input, the first
    ERRORS_SHOWN errors and a count of the others."""
    assert isinstance(exc, RequestValidationError)
    every = exc.errors()
    errors = [
        {key: _echoable(val) if key in ("input", "loc", "msg") else val for key, val in e.items()}
        for e in every[:ERRORS_SHOWN]
    ]
    if len(every) > ERRORS_SHOWN:
        errors.append({
            "type": "too_many_errors", "loc": [],
            "msg": f"{len(every) - ERRORS_SHOWN} more errors not shown", "input": None,
        })
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def store_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """Every database failure, whichever route met it: 503, the cause named, nothing written."""
    return JSONResponse(
        {"detail": str(exc)}, status_code=503,
        headers={"Retry-After": str(STORE_RETRY_AFTER)},
    )


async def model_input_handler(request: Request, exc: Exception) -> JSONResponse:
    """A model refusing x: the 422 a bad x gets, shaped as a validation error of x."""
    assert isinstance(exc, ModelInputError)
    return JSONResponse(
        {"detail": [{
            "type": "model_refused", "loc": ["query", "x"], "msg": str(exc),
            "input": _echoable(exc.x),
        }]},
        status_code=422,
    )


async def unknown_model_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's own handler, with two fixes.

    A 405 lists every method of the resource the path names: Starlette names only those of
    the first route that matched (POST /items would hide GET). And a body FastAPI could not
    even decode (bytes that are not UTF-8, or nested past Python's recursion limit) is the 422
    any other malformed JSON gets, not an undocumented 400.
    """
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and (location := _other_spelling(request)) is not None:
        return RedirectResponse(location, status_code=307)
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    elif exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        return JSONResponse(
            {"detail": [{
                "type": "json_invalid",
                "loc": ["body"],
                "msg": f"JSON decode error: {exc.__cause__}",
                "input": {},
            }]},
            status_code=422,
        )
    return await http_exception_handler(request, exc)


def _other_spelling(request: Request) -> str | None:
    """Where a path no route serves is served with or without its trailing slash, as a
    relative URL. Starlette's own redirect (off: redirect_slashes=False) built an absolute one
    from the client's Host header, so `Host: evil.example` sent the client there."""
    scope = request.scope
    path: str = scope["path"]
    if path == "/":
        return None
    routes = list(iter_route_contexts(request.app.router.routes))
    if any(route.matches(scope)[0] is not Match.NONE for route in routes):
        return None  # a route serves this path: its 404 is about the resource
    other = {**scope, "path": path[:-1] if path.endswith("/") else path + "/"}
    if not any(route.matches(other)[0] is not Match.NONE for route in routes):
        return None
    # The path as the client spelt it (percent-encoded), root_path included.
    raw: bytes = scope.get("raw_path") or path.encode()
    location = (raw[:-1] if raw.endswith(b"/") else raw + b"/").decode("latin-1")
    if scope.get("query_string"):
        location += "?" + scope["query_string"].decode("latin-1")
    return location


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the resource the path names: that of the first documented route that
    matched, as routing chose it (/tasks/counts, not /tasks/{task_id}), with every route on it.
    A path outside the documented API (/docs, /openapi.json) has the methods of the routes
    that serve it."""
    routes = list(iter_route_contexts(request.app.router.routes))
    documented = [r for r in routes if getattr(r, "include_in_schema", True)]
    hidden = [r for r in routes if not getattr(r, "include_in_schema", True)]
    for candidates in (documented, hidden):
        resource: str | None = None
        methods: set[str] = set()
        for route in candidates:
            if not route.methods:
                continue
            if resource is None:
                match, _ = route.matches(request.scope)
                if match is Match.NONE:
                    continue
                resource = route.path_format
            if route.path_format == resource:
                methods |= route.methods
        if methods:
            return sorted(methods)
    return []


def install_error_handling(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(UnknownModelError, unknown_model_handler)
    app.add_exception_handler(ModelInputError, model_input_handler)
    app.add_exception_handler(StoreUnavailable, store_unavailable_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
