"""The limit for /predict: one route on bare Starlette, no FastAPI.

The same bytes as fpx's /predict (`{"model":"answer_to_everything","x":3.5,"result":147.0}`)
with nothing FastAPI adds: no dependency solving, no query or response validation, no OpenAPI.
A row against it has no target: it shows what the framework costs, not something to beat.

    uvicorn bench.starlette_app:app --log-level warning --no-access-log
"""

import math

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def predict(request: Request) -> JSONResponse:
    try:
        x = float(request.query_params["x"])
    except (KeyError, ValueError):
        return JSONResponse({"detail": "x must be a number"}, status_code=422)
    if not math.isfinite(x):
        return JSONResponse({"detail": "x must be finite"}, status_code=422)
    return JSONResponse({"model": "answer_to_everything", "x": x, "result": x * 42})


app = Starlette(routes=[Route("/predict", predict)])
