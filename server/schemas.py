"""Request and response models, one family per resource."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from server.jobs import MODEL_NAME_MARK, JobKind, JobRegistry, json_ints
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


NonNegativeInt = json_ints(Annotated[int, Field(ge=0)])
TimeLimit = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class TaskCreate(RequestBody):
    """Either `{"job": NAME, "args": {...}}` or the sleep job's shorthand `{"wait_time": N}`.

    The job's args are checked against its signature by the route (server/jobs.py); the
    OpenAPI document shows each job's form (see task_create_forms)."""

    # A default of None that JSON cannot give: `"job": null` is refused, not taken as absent.
    job: str = Field(None, description="the job to run (GET /jobs)")  # type: ignore[assignment]
    args: dict[str, Any] = Field(None, description="the job's arguments")  # type: ignore[assignment]
    # As JSON Schema's integer: 5 and 5.0; "5", 5.5, true and null are refused, not coerced.
    wait_time: NonNegativeInt = Field(  # type: ignore[assignment]
        None, description="shorthand for {\"job\": \"sleep\", \"args\": {\"wait_time\": N}}",
    )
    id: UUID | None = Field(None, description="a client-chosen id; one is made if absent")
    time_limit: TimeLimit = Field(  # type: ignore[assignment]
        None, description="seconds the job may run before it is stopped (FPX_JOB_TIME_LIMIT)",
    )

    @model_validator(mode="after")
    def _one_form(self) -> TaskCreate:
        if "wait_time" in self.model_fields_set and self.model_fields_set & {"job", "args"}:
            raise ValueError("give either wait_time (the sleep shorthand) or job and args")
        return self


def task_create_forms(jobs: JobRegistry, max_wait: int, models: list[str]) -> dict[str, dict]:
    """JSON Schemas of each form of a POST /tasks body, by name, with the models they refer to
    (as `#/components/schemas/...`), for the OpenAPI document."""
    from pydantic.json_schema import models_json_schema  # only when /openapi.json is asked for

    extra = {
        "id": (UUID | None, Field(None)),
        "time_limit": (TimeLimit, Field(None)),
    }
    config = ConfigDict(extra="forbid")
    forms = [create_model(
        "TaskCreateSleepShorthand", __config__=config,
        wait_time=(json_ints(Annotated[int, Field(ge=0, le=max_wait)]), ...), **extra,
    )]
    for spec in jobs.specs():
        required = bool(spec.schema().get("required"))
        forms.append(create_model(
            f"TaskCreate_{spec.name}", __config__=config,
            job=(Literal[spec.name], ...),  # type: ignore[valid-type]
            args=(spec.args_model, ... if required else Field(None)),
            **extra,
        ))
    _, defs = models_json_schema(
        [(form, "validation") for form in forms], ref_template="#/components/schemas/{model}"
    )
    schemas = defs["$defs"]
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            if prop.pop(MODEL_NAME_MARK, False):
                prop["enum"] = models
            if name == "wait_time" and "sleep" in schema.get("title", ""):
                prop["maximum"] = max_wait
    schemas["TaskCreate"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{form.__name__}"} for form in forms],
        "title": "TaskCreate",
    }
    return schemas


class TaskPublic(BaseModel):
    id: UUID
    status: TaskStatus
    job: str = Field(description="the job it runs (GET /jobs)")
    args: dict[str, Any] = Field(description="the job's arguments, defaults filled in")
    wait_time: int | None = Field(description="the sleep job's wait_time; null for other jobs")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        description="what the job last reported, 0..1; 1 once it succeeded"
    )
    message: str | None = Field(description="the job's last progress note")
    result: Any = Field(description="what the job returned: any JSON value")
    error: str | None
    worker: str | None = Field(None, description="the worker that ran (or runs) it")
    attempts: int = Field(0, description="how many times a worker started it")
    time_limit: float | None = Field(description="seconds it may run before it is stopped")

    @classmethod
    def of(cls, task: Task) -> TaskPublic:
        return cls(
            id=UUID(task.id),
            status=task.status,
            job=task.job,
            args=task.args,
            wait_time=task.args.get("wait_time") if task.job == "sleep" else None,
            created_at=_utc(task.created_at),
            started_at=_utc(task.started_at),
            finished_at=_utc(task.finished_at),
            progress=task.progress,
            message=task.message,
            result=task.result,
            error=task.error,
            worker=task.worker,
            attempts=task.attempts,
            time_limit=task.time_limit,
        )


class JobPublic(BaseModel):
    name: str
    description: str = Field(description="the first line of the job's docstring")
    runs: JobKind = Field(description="on the event loop (async), in a thread, or in a process")
    parameters: dict[str, Any] = Field(description="the job's args, as JSON Schema")


class TaskCounts(BaseModel):
    pending: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    interrupted: int
