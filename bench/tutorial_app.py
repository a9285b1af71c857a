"""The baseline for POST /tasks: the FastAPI tutorial's BackgroundTasks endpoint, in memory.

Tasks live in a dict on the app (lost on restart, one worker only); the job runs as the
response's background task. `GET /tasks/counts` answers like fpx's, so both are polled alike.

    uvicorn bench.tutorial_app:app --log-level warning --no-access-log
"""

import asyncio
import uuid
from collections import Counter

from fastapi import BackgroundTasks, FastAPI, Request
from pydantic import BaseModel

app = FastAPI()
app.state.tasks = {}


class TaskCreate(BaseModel):
    wait_time: int


class TaskPublic(BaseModel):
    id: str
    status: str
    wait_time: int


async def run_task(tasks: dict[str, TaskPublic], task_id: str) -> None:
    task = tasks[task_id]
    task.status = "running"
    await asyncio.sleep(task.wait_time)
    task.status = "succeeded"


@app.post("/tasks", status_code=202)
async def submit_task(
    body: TaskCreate, background: BackgroundTasks, request: Request
) -> TaskPublic:
    tasks = request.app.state.tasks
    task = TaskPublic(id=str(uuid.uuid4()), status="pending", wait_time=body.wait_time)
    tasks[task.id] = task
    background.add_task(run_task, tasks, task.id)
    return task


@app.get("/tasks/counts")
async def count_tasks(request: Request) -> dict[str, int]:
    return dict(Counter(t.status for t in request.app.state.tasks.values()))
