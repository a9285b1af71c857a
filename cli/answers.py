"""The shapes of the fpx server's answers that the CLI relies on, and which answer has which.

The client checks every successful answer against its shape before anything reads it
(cli/client.py), so that something else answering JSON at the URL is "not an fpx server"
rather than a KeyError in a renderer, wrong data printed with exit 0, or a server called
ready. Only what the CLI reads is required; fields a newer server adds are let through.
Strict: a number is never a string here, nor a bool a number. Times stay ISO strings
(rendered as they come when they do not parse).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter


class Answer(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class Alive(Answer):
    status: Literal["alive"]


class Ready(Answer):
    status: Literal["ready"]
    models: list[str]


class NotReady(Answer):
    status: str
    detail: str | None = None


class Model(Answer):
    name: str
    loaded_at: str
    load_ms: float


class Prediction(Answer):
    model: str
    x: float
    result: float


class User(Answer):
    username: str


class Item(Answer):
    id: int
    name: str
    description: str | None = None
    created_at: str | None = None


class Task(Answer):
    id: str
    status: Literal["pending", "running", "succeeded", "failed", "cancelled", "interrupted"]
    progress: float
    job: str = "sleep"
    args: dict[str, Any] | None = None
    wait_time: float | None = None
    time_limit: float | None = None
    message: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    result: Any = None
    error: str | None = None
    worker: str | None = None
    attempts: int | None = None


class Schema(Answer):
    """The parts of a job's JSON Schema that `fpx jobs` shows."""

    type: str | list[str] | None = None
    anyOf: list[Schema] | None = None
    enum: list[Any] | None = None
    items: Schema | bool | None = None
    properties: dict[str, Schema] | None = None
    required: list[str] | None = None


class Job(Answer):
    name: str
    runs: str
    description: str = ""
    parameters: Schema | None = None


# (method, path, status or None for any 2xx) -> the answer's shape. A `{name}` segment is any
# one segment; the first match wins, so /users/me comes before /users/{name}.
SHAPES: list[tuple[str, str, int | None, Any]] = [
    ("GET", "/livez", None, Alive),
    ("GET", "/readyz", 200, Ready),
    ("GET", "/readyz", 503, NotReady),
    ("GET", "/models", None, list[Model]),
    ("GET", "/predict", None, Prediction),
    ("GET", "/users", None, list[User]),
    ("GET", "/users/me", None, User),
    ("GET", "/users/{name}", None, User),
    ("GET", "/items", None, list[Item]),
    ("POST", "/items", None, Item),
    ("GET", "/items/{id}", None, Item),
    ("GET", "/jobs", None, list[Job]),
    ("GET", "/tasks", None, list[Task]),
    ("POST", "/tasks", None, Task),
    ("GET", "/tasks/counts", None, dict[str, int]),
    ("GET", "/tasks/{id}", None, Task),
    ("DELETE", "/tasks/{id}", None, Task),
    ("POST", "/tasks/{id}/cancel", None, Task),
]


def shape_of(method: str, path: str, status: int) -> TypeAdapter | None:
    """The shape of the answer `status` to `method path` (its segments percent-encoded), or
    None when the CLI reads nothing of it (error answers, a 204's empty body)."""
    segments = path.strip("/").split("/")
    for index, (s_method, s_path, s_status, _) in enumerate(SHAPES):
        wanted = s_status == status if s_status is not None else 200 <= status < 300
        if s_method != method or not wanted or status == 204:
            continue
        pattern = s_path.strip("/").split("/")
        if len(pattern) == len(segments) and all(
            p == seg or (p.startswith("{") and seg)
            for p, seg in zip(pattern, segments, strict=True)
        ):
            return _adapter(index)
    return None


@cache
def _adapter(index: int) -> TypeAdapter:
    return TypeAdapter(SHAPES[index][3])
