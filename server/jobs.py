"""Jobs: the functions a task runs, registered by name as models are (`FPX_JOBS=name=module:attr`).

The function is the job and its signature is its schema: its parameters, with their type hints
and defaults, become a strict pydantic model that checks a task's args before the task is
stored (an `int` in it takes what JSON Schema's integer does: 2 and 2.0, not 2.5 or "2"). How
it runs follows from what it is: an `async def` on the event loop, a plain `def` in a worker
process (server/jobpool.py), one marked `in_thread` in a thread. A parameter annotated with
`JobContext` receives the context: progress, cancellation, the task's id.
No FastAPI imports here.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import re
import threading
import time
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    Strict,
    ValidationInfo,
    create_model,
)
from pydantic_core import PydanticCustomError

from server.settings import JobEntry, resolve

if TYPE_CHECKING:
    from server.registry import ModelRegistry

F = TypeVar("F", bound=Callable[..., Any])

BUILTIN_MODEL = "answer_to_everything"  # server.registry's; not imported: a job process needs none
JOB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


class JobKind(enum.StrEnum):
    ASYNC = "async"
    THREAD = "thread"
    PROCESS = "process"


def in_thread(fn: F) -> F:
    """Mark a plain `def` job as I/O-bound: it runs in a thread of the server, not a process."""
    fn.fpx_in_thread = True  # type: ignore[attr-defined]
    return fn


class JobCancelled(Exception):
    """Raised by `JobContext.raise_if_cancelled` once the task was cancelled or timed out."""


class JobContext:
    """What a job may ask for: `progress(...)`, `cancelled`, `raise_if_cancelled()`, `task_id`.

    `models` is the server's model registry for async and thread jobs, None in a job process.
    Progress is kept in memory and written to the store at most every 0.5 s and at the end,
    so a tight loop may call it as often as it likes.
    """

    def __init__(
        self,
        task_id: str,
        report: Callable[[float, str | None], None],
        cancelled: threading.Event | None = None,
        models: ModelRegistry | None = None,
    ) -> None:
        self.task_id = task_id
        self.models = models
        self._report = report
        self._cancelled = cancelled or threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise JobCancelled(f"task {self.task_id} was cancelled")

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the job is, 0.0 to 1.0, with an optional note for the people
        following it."""
        if not 0.0 <= fraction <= 1.0:  # also refuses NaN
            raise ValueError(f"progress must be between 0 and 1, not {fraction!r}")
        if message is not None and not isinstance(message, str):
            raise TypeError(f"a progress message is a str, not {type(message).__name__}")
        self._report(float(fraction), message)


# -- integers as JSON Schema has them ------------------------------------------------------------


def _whole_number(value: object) -> object:
    return int(value) if type(value) is float and value.is_integer() else value


# An int of a request is what the published schema's "integer" admits, and nothing else. JSON
# Schema calls 2.0 an integer, so 2.0 is taken as 2; 2.5, "2", true and null are refused (a
# strict int: a lax one would take "2" and true). The whole-number check comes last in the
# Annotated, so it runs first and `ge`/`le` still reach the schema as minimum/maximum.
_WHOLE_NUMBER = BeforeValidator(_whole_number)
JsonInt = Annotated[int, Strict(), _WHOLE_NUMBER]


def json_ints(hint: Any) -> Any:
    """`hint` with each `int` in it, at any depth (`list[int]`, `int | None`, `Annotated[int,
    Field(ge=0)]`), taken as JSON Schema's integer (JsonInt). A pydantic model's own fields are
    its own."""
    if hint is int:
        return JsonInt
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        if args[0] is int:
            return Annotated[(int, Strict(), *hint.__metadata__, _WHOLE_NUMBER)]
        return Annotated[(json_ints(args[0]), *hint.__metadata__)]
    if not args or origin is typing.Literal:
        return hint
    changed = tuple(json_ints(a) for a in args)
    if changed == args:
        return hint
    if origin is typing.Union or isinstance(hint, types.UnionType):
        return typing.Union[changed]  # noqa: UP007 (a tuple of members)
    return origin[changed]


# -- the built-in jobs ----------------------------------------------------------------------------

PROGRESS_EVERY = 0.5  # seconds between the sleep job's progress reports


def _within_max_wait(value: int, info: ValidationInfo) -> int:
    limit = (info.context or {}).get("max_wait")
    if limit is not None and value > limit:
        raise PydanticCustomError(
            "less_than_equal", "Input should be less than or equal to {le}", {"le": limit}
        )
    return value


def _known_model(value: str, info: ValidationInfo) -> str:
    models = (info.context or {}).get("models")
    if models is not None and value not in models:
        raise PydanticCustomError(
            "unknown_model", "Unknown model '{model}'; loaded: {loaded}",
            {"model": value, "loaded": ", ".join(models.names())},
        )
    return value


# Marks a parameter naming a loaded model; the schemas shown list the loaded ones instead.
MODEL_NAME_MARK = "x-fpx-model"

WaitTime = Annotated[int, Field(ge=0), AfterValidator(_within_max_wait)]
ModelName = Annotated[
    str, AfterValidator(_known_model),
    Field(description="a loaded model (GET /models)", json_schema_extra={MODEL_NAME_MARK: True}),
]


async def sleep(ctx: JobContext, wait_time: WaitTime) -> str:
    """Wait wait_time seconds without holding a thread (the demo job)."""
    started = time.monotonic()
    while (left := started + wait_time - time.monotonic()) > 0:
        await asyncio.sleep(min(left, PROGRESS_EVERY))
        ctx.progress(min(1.0, (time.monotonic() - started) / wait_time))
    return f"task done after {wait_time}"


async def predict_batch(
    ctx: JobContext, inputs: list[FiniteFloat], model: ModelName = BUILTIN_MODEL
) -> list[float]:
    """Run a loaded model over a list of inputs and return its results."""
    assert ctx.models is not None, "predict_batch runs in the server, next to the models"
    loaded = ctx.models.get(model)
    results = []
    for done, x in enumerate(inputs, 1):
        results.append(await loaded.predict(x))
        ctx.progress(done / len(inputs))
        if done % 1000 == 0:
            await asyncio.sleep(0)  # an inline model never yields: let requests in between
    return results


BUILTIN_JOBS = (
    JobEntry(name="sleep", target="server.jobs:sleep"),
    JobEntry(name="predict_batch", target="server.jobs:predict_batch"),
)


# -- specs and the registry -----------------------------------------------------------------------


class JobLoadError(RuntimeError):
    """A configured job cannot be imported, is not a function, or has a bad or taken name."""

    def __init__(self, entry: JobEntry, reason: str) -> None:
        super().__init__(f"job {entry.name!r} ({entry.target}) cannot be registered: {reason}")
        self.entry = entry


class UnknownJobError(LookupError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.known = list(known)
        super().__init__(
            f"unknown job {name!r}; known jobs: {', '.join(self.known)}"
        )
        self.name = name


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A registered job: its function, how it runs, and the model of its args."""

    name: str
    target: str
    fn: Callable[..., Any]
    kind: JobKind
    description: str
    args_model: type[BaseModel]
    context_param: str | None

    @classmethod
    def of(cls, name: str, fn: Callable[..., Any], target: str = "") -> JobSpec:
        """The spec of `fn`; TypeError when its signature cannot be a job's."""
        if not (inspect.isfunction(fn) or inspect.ismethod(fn)):
            raise TypeError(f"{type(fn).__name__} is not a function")
        if inspect.iscoroutinefunction(fn):
            kind = JobKind.ASYNC
        elif getattr(fn, "fpx_in_thread", False):
            kind = JobKind.THREAD
        elif inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError("a generator cannot be a job")
        else:
            kind = JobKind.PROCESS
        hints = typing.get_type_hints(fn, include_extras=True)
        fields: dict[str, Any] = {}
        context_param = None
        for param in inspect.signature(fn).parameters.values():
            hint = hints.get(param.name, Any)
            if hint is JobContext:
                context_param = param.name
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
                raise TypeError(f"parameter {param.name!r}: a job takes named parameters only")
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (json_ints(hint), default)
        model = create_model(
            f"{name}_args", __config__=ConfigDict(strict=True, extra="forbid"), **fields
        )
        doc = inspect.getdoc(fn) or ""
        return cls(
            name=name, target=target or f"{fn.__module__}:{fn.__qualname__}", fn=fn,
            kind=kind, description=doc.strip().splitlines()[0] if doc.strip() else "",
            args_model=model, context_param=context_param,
        )

    def check_args(self, args: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        """The args as they are stored: validated in JSON mode (JSON types must match) and
        with the defaults filled in. Raises pydantic.ValidationError."""
        model = self.args_model.model_validate_json(json.dumps(args), context=context)
        return model.model_dump(mode="json")

    def bind(self, args: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of a call, from stored args (the context not included)."""
        model = self.args_model.model_validate_json(json.dumps(args))
        return {name: getattr(model, name) for name in type(model).model_fields}

    def schema(self, models: list[str] | None = None) -> dict[str, Any]:
        """The args as JSON Schema; a model-name parameter lists `models` when given."""
        schema = self.args_model.model_json_schema()
        for prop in schema.get("properties", {}).values():
            if prop.pop(MODEL_NAME_MARK, False) and models is not None:
                prop["enum"] = models
        return schema


class JobRegistry:
    """Jobs by name: the built-in ones, then those configured, in that order."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def names(self) -> list[str]:
        return list(self._jobs)

    def specs(self) -> list[JobSpec]:
        return list(self._jobs.values())

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJobError(name, self._jobs) from None

    def kinds(self, kind: JobKind) -> list[str]:
        return [spec.name for spec in self._jobs.values() if spec.kind is kind]

    def add(self, name: str, fn: Callable[..., Any], target: str = "") -> JobSpec:
        """Register `fn` as job `name` (tests and `load` use this)."""
        if not JOB_NAME.match(name):
            raise ValueError(f"{name!r} is not a job name (letters, digits, _ . -)")
        if name in self._jobs:
            raise ValueError("a job of that name is already registered")
        spec = self._jobs[name] = JobSpec.of(name, fn, target)
        return spec

    def load(self, entries: Iterable[JobEntry]) -> None:
        """Register each entry; the first that cannot be stops start-up with its name."""
        for entry in entries:
            try:
                self.add(entry.name, resolve(entry.target), entry.target)
            except Exception as exc:
                raise JobLoadError(entry, f"{type(exc).__name__}: {exc}") from exc

    @classmethod
    def with_builtins(cls, entries: Iterable[JobEntry] = ()) -> JobRegistry:
        registry = cls()
        registry.load([*BUILTIN_JOBS, *entries])
        return registry
