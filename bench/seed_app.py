"""The seed's own app: the blog post's code as written, the app fpx grew from.

Kept as a baseline (the `/predict` and `fastapi run` rows), with its known defects on purpose:
module-level state (`ml_models`, `task_repo`) instead of state on the app, a sync `predict` and
a `time.sleep` task that each hold a thread-pool worker, tasks lost on restart and invisible
to any second worker, a task id the client never learns, no check that x is finite. It is what
a reader would otherwise start from; do not fix it here, fpx is the fixed version.

    uvicorn bench.seed_app:app --log-level warning --no-access-log
    fastapi run bench/seed_app.py --host 127.0.0.1 --port 8000
"""

import time
import uuid
from contextlib import asynccontextmanager

from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException
from pydantic import BaseModel


def fake_answer_to_everything_ml_model(x: float):
    return x * 42


ml_models = {}


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Load the ML model
    ml_models["answer_to_everything"] = fake_answer_to_everything_ml_model
    yield
    # Clean up the ML models and release the resources
    ml_models.clear()


router = APIRouter()


@router.get("/users/", tags=["users"])
async def read_users():
    return [{"username": "Rick"}, {"username": "Morty"}]


@router.get("/users/me", tags=["users"])
async def read_user_me():
    return {"username": "fakecurrentuser"}


@router.get("/users/{username}", tags=["users"])
async def read_user(username: str):
    return {"username": username}


app = FastAPI(lifespan=lifespan)
app.include_router(router)

items = {"foo": "The Foo Wrestlers"}


@app.get("/v/{item_id}")
async def read_item(item_id: str):
    if item_id not in items:
        raise HTTPException(status_code=404, detail="Item not found")
    return {"item": items[item_id]}


@app.get("/predict")
def predict(x: float):
    result = ml_models["answer_to_everything"](x)
    return {"result": result}


task_repo = {}


class Task(BaseModel):
    wait_time: int


def cpu_bound_task(task_id: str, wait_time: int):
    task_repo[task_id] = "running"
    time.sleep(wait_time)
    task_repo[task_id] = "done"


@app.post("/task")
async def create_task(task: Task, background_tasks: BackgroundTasks):
    task_id = str(uuid.uuid4())
    background_tasks.add_task(cpu_bound_task, task_id, task.wait_time)
    return "ok"


@app.get("/task/{task_id}")
async def read_task(task_id: str):
    return task_repo.get(task_id)
