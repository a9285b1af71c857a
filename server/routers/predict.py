import math
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError

from server.deps import ModelsDep
from server.schemas import ErrorResponse, ModelPublic, Prediction, PredictQuery

router = APIRouter(tags=["predict"])


@router.get(
    "/predict",
    responses={404: {"model": ErrorResponse, "description": "Unknown model"}},
)
async def predict(query: Annotated[PredictQuery, Query()], request: Request) -> Prediction:
    """Run a model on x (the built-in one answers x * 42)."""
    # The hottest route keeps FastAPI's per-request work small: its query parameters are
    # validated as one model, not one by one, and it reads the registry from the app's state
    # itself, since a dependency costs a solve per request (together ~15%, make bench).
    x, model = query.x, query.model
    state = request.app.state
    loaded = state.registry.get(model)
    began = time.perf_counter()
    result = await loaded.predict(x)
    if (metrics := getattr(state, "metrics", None)) is not None:
        metrics.predict_latency.labels(model).observe(time.perf_counter() - began)
    if not math.isfinite(result):
        # Shaped as the validation error the 422 is documented as: x is out of this model's range.
        raise RequestValidationError([{
            "type": "finite_number",
            "loc": ("query", "x"),
            "msg": f"model {model!r} gives a non-finite result for this x",
            "input": x,
        }])
    return Prediction(model=model, x=x, result=result)


@router.get("/models", tags=["models"])
async def list_models(registry: ModelsDep) -> list[ModelPublic]:
    """The loaded models, with when and how fast each was loaded."""
    return [
        ModelPublic(name=m.name, loaded_at=m.loaded_at, load_ms=m.load_ms)
        for m in registry.models()
    ]
