import random
import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from server.deps import RunnerDep, StoreDep
from server.jobs import JobRegistry, UnknownJobError
from server.registry import ModelRegistry
from server.routing import GuardedRoute
from server.schemas import BODY_ERRORS, ErrorResponse, TaskCounts, TaskCreate, TaskPublic, header
from server.settings import Settings
from server.store import DuplicateTaskError, QueueFullError, Store, TaskStatus
from server.tasks import TaskRunner

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=GuardedRoute)

NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such task"}}
# How long a client refused for a full queue should wait before trying again.
RETRY_AFTER_SECONDS = 1


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {
            "description": "Accepted",
            "headers": {"Location": header("the task's URL")},
            # What a client (and schemathesis's stateful phase) can do next with the new task.
            "links": {
                name: {
                    "operationRef": f"#/paths/~1tasks~1{{task_id}}{suffix}/{method}",
                    "parameters": {"task_id": "$response.body#/id"},
                }
                for name, suffix, method in (
                    ("GetTask", "", "get"), ("CancelTask", "~1cancel", "post"),
                    ("DeleteTask", "", "delete"),
                )
            },
        },
        409: {"model": ErrorResponse, "description": "A task with that id exists"},
        503: {
            "model": ErrorResponse,
            "description": "Too many unfinished tasks",
            "headers": {"Retry-After": header("seconds to wait before trying again")},
        },
        **BODY_ERRORS,
    },
)
async def submit_task(
    body: TaskCreate, background: BackgroundTasks, request: Request, response: Response
) -> TaskPublic:
    """Accept a job to run in the background: {"job": NAME, "args": {...}} (GET /jobs), or
    {"wait_time": N} for the sleep job."""
    # The hottest write reads the app's state itself: each FastAPI dependency costs a
    # dependency solve per request, and these cost 10% of a submission (make bench).
    state = request.app.state
    settings: Settings = state.settings
    store: Store = state.store
    runner: TaskRunner = state.runner
    job, args = _job_and_args(body, state.jobs, state.registry, settings.max_wait)
    # A random version-4 UUID without uuid4's urandom syscall, which gives up the GIL while
    # the database thread holds it: a task id must be unique, not secret.
    task_id = str(body.id or uuid.UUID(int=random.getrandbits(128), version=4))
    time_limit = body.time_limit if body.time_limit is not None else settings.job_time_limit
    try:
        task = await store.create_task(task_id, job, args, settings.max_queued, time_limit)
    except DuplicateTaskError as exc:
        raise HTTPException(409, str(exc)) from None
    except QueueFullError as exc:
        raise HTTPException(
            503, f"{exc}; try again later", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        ) from None
    background.add_task(runner.submit, task)
    response.headers["Location"] = f"/tasks/{task.id}"
    return TaskPublic.of(task)


def _job_and_args(
    body: TaskCreate, jobs: JobRegistry, models: ModelRegistry, max_wait: int
) -> tuple[str, dict[str, Any]]:
    """The job a body names and its args as stored; a 422 naming what is wrong."""
    if "args" in body.model_fields_set and "job" not in body.model_fields_set:
        # As the schema says: args belong to a job named beside them, never to sleep by default.
        raise RequestValidationError([{
            "type": "missing", "loc": ("body", "job"), "msg": "Field required (with args)",
            "input": None,
        }])
    if body.model_fields_set & {"job", "args"}:
        name, args, where = body.job, body.args or {}, ("body", "args")
    else:  # the shorthand, {"wait_time": N}
        shorthand = {"wait_time": body.wait_time} if body.wait_time is not None else {}
        name, args, where = "sleep", shorthand, ("body",)
    try:
        spec = jobs.get(name)
    except UnknownJobError as exc:
        raise RequestValidationError([{
            "type": "unknown_job", "loc": ("body", "job"), "msg": str(exc), "input": name,
        }]) from None
    try:
        return name, spec.check_args(args, {"max_wait": max_wait, "models": models})
    except ValidationError as exc:
        raise RequestValidationError([
            {**error, "loc": (*where, *error["loc"])}
            for error in exc.errors(include_url=False, include_context=False)
        ]) from None


@router.get("")
async def list_tasks(
    store: StoreDep,
    status: Annotated[TaskStatus | None, Query(description="only tasks in this state")] = None,
    job: Annotated[str | None, Query(description="only tasks of this job")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskPublic]:
    """Tasks, newest first."""
    return [TaskPublic.of(t) for t in await store.list_tasks(status, limit, job)]


@router.get("/counts")
async def count_tasks(store: StoreDep) -> TaskCounts:
    """How many tasks are in each state."""
    counts = await store.count_tasks()
    return TaskCounts(**{s.value: n for s, n in counts.items()})


@router.api_route(
    "/counts", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def counts_is_read_only() -> None:
    """Without this, DELETE /tasks/counts would reach the /tasks/{task_id} routes and answer
    422 (not a UUID) where 405 is right: /tasks/counts is a resource of its own."""
    raise HTTPException(405)


@router.get("/{task_id}", responses=NOT_FOUND)
async def get_task(task_id: UUID, store: StoreDep) -> TaskPublic:
    """A task's status, progress and result."""
    task = await store.get_task(str(task_id))
    if task is None:
        raise HTTPException(404, f"task {task_id} not found")
    return TaskPublic.of(task)


@router.post(
    "/{task_id}/cancel",
    responses={**NOT_FOUND, 409: {"model": ErrorResponse, "description": "Already finished"}},
)
async def cancel_task(task_id: UUID, store: StoreDep, runner: RunnerDep) -> TaskPublic:
    """Cancel a pending or running task; whichever worker runs it stops within a second."""
    task, cancelled = await store.cancel_task(str(task_id))
    if task is None:
        raise HTTPException(404, f"task {task_id} not found")
    if not cancelled:
        raise HTTPException(409, f"task {task_id} already finished ({task.status.value})")
    runner.cancel_local(task.id)
    return TaskPublic.of(task)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorResponse, "description": "Still pending or running: cancel it first"},
    },
)
async def delete_task(task_id: UUID, store: StoreDep) -> None:
    """Delete a finished task (POST /tasks/{task_id}/cancel first for one pending or running)."""
    task, deleted = await store.delete_task(str(task_id))
    if task is None:
        raise HTTPException(404, f"task {task_id} not found")
    if not deleted:
        raise HTTPException(
            409,
            f"task {task_id} is {task.status.value}: cancel it first "
            f"(POST /tasks/{task_id}/cancel)",
        )
