import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from server.deps import ModelsDep
from server.routing import GuardedRoute
from server.schemas import ErrorResponse, ModelPublic, Prediction, PredictQuery

router = APIRouter(tags=["predict"], route_class=GuardedRoute)


@router.get(
    "/predict",
    responses={
        404: {"model": ErrorResponse, "description": "Unknown model"},
        422: {
            "description": "x is not a finite number, or the model refuses it: it raised "
            "ValueError or ArithmeticError, or its result is not finite",
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
            }},
        },
    },
)
async def predict(query: Annotated[PredictQuery, Query()], request: Request) -> Prediction:
    """Run a model on x (the built-in one answers x * 42)."""
    # The hottest route keeps FastAPI's per-request work small: its query parameters are
    # validated as one model, not one by one, and it reads the registry from the app's state
    # itself, since a dependency costs a solve per request (together ~15%, make bench).
    x, model = query.x, query.model
    state = request.app.state
    loaded = state.registry.get(model)
    # A model that refuses x raises ModelInputError (422), one that breaks ModelFailedError
    # (500, logged with the request id): see server/errors.py.
    began = time.perf_counter()
    result = await loaded.predict(x)
    if (metrics := getattr(state, "metrics", None)) is not None:
        metrics.observe_predict(model, time.perf_counter() - began)
    return Prediction(model=model, x=x, result=result)


@router.get("/models", tags=["models"])
async def list_models(registry: ModelsDep) -> list[ModelPublic]:
    """The loaded models, with when and how fast each was loaded."""
    return [
        ModelPublic(name=m.name, loaded_at=m.loaded_at, load_ms=m.load_ms)
        for m in registry.models()
    ]
