import random
import uuid
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from server.deps import RunnerDep, StoreDep
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
        202: {"description": "Accepted", "headers": {"Location": header("the task's URL")}},
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
    """Accept a job that waits `wait_time` seconds; it runs in the background."""
    # The hottest write reads the app's state itself: each FastAPI dependency costs a
    # dependency solve per request, and these three cost 10% of a submission (make bench).
    state = request.app.state
    settings: Settings = state.settings
    store: Store = state.store
    runner: TaskRunner = state.runner
    if body.wait_time > settings.max_wait:
        raise RequestValidationError([{
            "type": "less_than_equal",
            "loc": ("body", "wait_time"),
            "msg": f"Input should be less than or equal to {settings.max_wait}",
            "input": body.wait_time,
            "ctx": {"le": settings.max_wait},
        }])
    # A random version-4 UUID without uuid4's urandom syscall, which gives up the GIL while
    # the database thread holds it: a task id must be unique, not secret.
    task_id = str(body.id or uuid.UUID(int=random.getrandbits(128), version=4))
    try:
        task = await store.create_task(task_id, body.wait_time, settings.max_queued)
    except DuplicateTaskError as exc:
        raise HTTPException(409, str(exc)) from None
    except QueueFullError as exc:
        raise HTTPException(
            503, f"{exc}; try again later", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        ) from None
    background.add_task(runner.submit, task.id)
    response.headers["Location"] = f"/tasks/{task.id}"
    return TaskPublic.of(task)


@router.get("")
async def list_tasks(
    store: StoreDep,
    status: Annotated[TaskStatus | None, Query(description="only tasks in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskPublic]:
    """Tasks, newest first."""
    return [TaskPublic.of(t) for t in await store.list_tasks(status, limit)]


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


@router.delete(
    "/{task_id}",
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
