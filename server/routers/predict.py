import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError

from server.deps import ModelsDep
from server.registry import BUILTIN_MODEL
from server.schemas import ErrorResponse, ModelPublic, Prediction

router = APIRouter(tags=["predict"])


@router.get(
    "/predict",
    responses={404: {"model": ErrorResponse, "description": "Unknown model"}},
)
async def predict(
    x: Annotated[float, Query(allow_inf_nan=False, description="a finite number")],
    request: Request,
    model: Annotated[str, Query(max_length=200, description="a loaded model")] = BUILTIN_MODEL,
) -> Prediction:
    """Run a model on x (the built-in one answers x * 42)."""
    # The hottest route reads the registry from the app's state itself: a dependency costs a
    # dependency solve on every request (make bench: ~10% of a /predict).
    loaded = request.app.state.registry.get(model)
    result = await loaded.predict(x)
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
