"""Bearer-token access control: when FPX_API_TOKEN is set, every API operation needs it.

/livez and /readyz stay open so that probes work without a secret. `bearer` is a dependency of
every guarded route only so that the OpenAPI document names the scheme; the check itself is
check_token, run by the route (server/routing.py). The token is compared in
constant time and never logged or echoed: the 401 says only that it is missing or wrong.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer

from server.schemas import ErrorResponse

bearer = HTTPBearer(auto_error=False, description="the server's FPX_API_TOKEN")

UNAUTHORIZED = {401: {"model": ErrorResponse, "description": "Missing or invalid bearer token"}}


async def check_token(request: Request, expected: bytes) -> None:
    """401 unless the request carries the token. Called by every guarded route before it reads
    a body (server/routing.py): FastAPI would read the body before any dependency."""
    credentials = await bearer(request)
    given = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            401,
            "missing or invalid bearer token (send Authorization: Bearer <FPX_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
