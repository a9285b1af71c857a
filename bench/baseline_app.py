"""The baseline for /predict: a one-route FastAPI app, as the FastAPI tutorial writes one.

The same answer as fpx's /predict (x * 42 with the model's name), from an `async def` route with
a response model, and nothing else: no routers, middleware, registry, settings or lifespan.

    uvicorn bench.baseline_app:app --log-level warning --no-access-log
"""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Prediction(BaseModel):
    model: str
    x: float
    result: float


@app.get("/predict")
async def predict(x: float) -> Prediction:
    return Prediction(model="answer_to_everything", x=x, result=x * 42)
