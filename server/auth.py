"""Bearer-token access control: when FPX_API_TOKEN is set, every API operation needs it.

/livez and /readyz stay open so that probes work without a secret. The token is compared in
constant time and never logged or echoed: the 401 says only that it is missing or wrong.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.schemas import ErrorResponse

bearer = HTTPBearer(auto_error=False, description="the server's FPX_API_TOKEN")

UNAUTHORIZED = {401: {"model": ErrorResponse, "description": "Missing or invalid bearer token"}}


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    expected: bytes = request.app.state.token
    given = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            401,
            "missing or invalid bearer token (send Authorization: Bearer <FPX_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
