"""Request and response models, one family per resource."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.store import Item, Task, TaskStatus


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class ErrorResponse(BaseModel):
    detail: str


# What a route refuses a body for (server/routing.py), documented on each operation that
# takes one.
BODY_ERRORS: dict[int | str, dict] = {
    413: {"model": ErrorResponse, "description": "Body over FPX_MAX_BODY_SIZE"},
    415: {"model": ErrorResponse, "description": "Body that is not application/json"},
}


def header(description: str) -> dict:
    return {"description": description, "schema": {"type": "string"}}


class Alive(BaseModel):
    status: Literal["alive"] = "alive"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    models: list[str]


class NotReady(BaseModel):
    status: Literal["starting", "stopping", "unavailable"]
    detail: str | None = Field(None, description="why, when the database is unavailable")


# Any operation that reaches the database may meet one it cannot use.
STORE_UNAVAILABLE: dict[int | str, dict] = {
    503: {
        "model": ErrorResponse,
        "description": "Database unavailable (disk full, locked, file gone); nothing was written",
        "headers": {"Retry-After": header("seconds to wait before trying again")},
    },
}


class ModelPublic(BaseModel):
    name: str
    loaded_at: datetime
    load_ms: float


class Prediction(BaseModel):
    model: str
    x: float
    result: float


class UserPublic(BaseModel):
    username: str


# Unknown fields a refused body's error names: enough to see the mistake.
UNKNOWN_FIELDS_SHOWN = 5


class RequestBody(BaseModel):
    """A request body: unknown fields are refused. One with more fields than the model has is
    refused at once, as one error naming the first few, before any field is validated:
    pydantic reports each unknown field, which for a 64 KB body of short keys was 8,000 errors
    and half a second of the event loop."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_more_fields_than_the_model(cls, data: object) -> object:
        fields = cls.model_fields
        if isinstance(data, dict) and len(data) > len(fields):
            # Counted and sampled without a pass over the body's keys in Python.
            unknown = len(data) - sum(name in data for name in fields)
            sample = itertools.islice((k for k in data if k not in fields), UNKNOWN_FIELDS_SHOWN)
            shown = ", ".join(repr(str(k)[:40]) for k in sample)
            more = ", ..." if unknown > UNKNOWN_FIELDS_SHOWN else ""
            raise ValueError(
                f"{unknown} unknown fields ({shown}{more}); the fields are {', '.join(fields)}"
            )
        return data


class ItemCreate(RequestBody):

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str | None, Field(max_length=2000)] = None


class ItemPublic(BaseModel):
    id: int
    name: str
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, item: Item) -> ItemPublic:
        return cls(
            id=item.id, name=item.name, description=item.description,
            created_at=_utc(item.created_at),
        )


class TaskCreate(RequestBody):

    # strict: "5", 5.0, true and null are refused, not coerced.
    wait_time: Annotated[
        int, Field(strict=True, ge=0, description="seconds the job runs, 0..max_wait")
    ]
    id: UUID | None = Field(None, description="a client-chosen id; one is made if absent")


class TaskPublic(BaseModel):
    id: UUID
    status: TaskStatus
    wait_time: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Annotated[float, Field(ge=0.0, le=1.0)]
    result: str | None
    error: str | None
    worker: str | None = Field(None, description="the worker that ran (or runs) it")
    attempts: int = Field(0, description="how many times a worker started it")

    @classmethod
    def of(cls, task: Task) -> TaskPublic:
        return cls(
            id=UUID(task.id),
            status=task.status,
            wait_time=task.wait_time,
            created_at=_utc(task.created_at),
            started_at=_utc(task.started_at),
            finished_at=_utc(task.finished_at),
            progress=task.progress_at(time.time()),
            result=task.result,
            error=task.error,
            worker=task.worker,
            attempts=task.attempts,
        )


class TaskCounts(BaseModel):
    pending: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    interrupted: int
