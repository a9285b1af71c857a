"""The shapes of the fpx server's answers that the CLI relies on, and which answer has which.

The client checks every successful answer against its shape before anything reads it
(cli/client.py), so that something else answering JSON at the URL is "not an fpx server"
rather than a KeyError in a renderer, wrong data printed with exit 0, or a server called
ready. Only what the CLI reads is required; fields a newer server adds are let through.
Strict: a number is never a string here, nor a bool a number. Times stay ISO strings
(rendered as they come when they do not parse). TypedDicts rather than models: the answer
stays the server's JSON, and a command builds the validator of only the shapes it reads
(pydantic models would build all of them at import, about 75 ms).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, NotRequired

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12


class Alive(TypedDict):
    status: Literal["alive"]


class Ready(TypedDict):
    status: Literal["ready"]
    models: list[str]


class NotReady(TypedDict):
    status: str
    detail: NotRequired[str | None]


class Model(TypedDict):
    name: str
    loaded_at: str
    load_ms: float


class Prediction(TypedDict):
    model: str
    x: float
    result: float


class User(TypedDict):
    username: str


class Item(TypedDict):
    id: int
    name: str
    description: NotRequired[str | None]
    created_at: NotRequired[str | None]


class Task(TypedDict):
    id: str
    status: Literal["pending", "running", "succeeded", "failed", "cancelled", "interrupted"]
    progress: float
    job: NotRequired[str]
    args: NotRequired[dict[str, Any] | None]
    wait_time: NotRequired[float | None]
    time_limit: NotRequired[float | None]
    message: NotRequired[str | None]
    created_at: NotRequired[str | None]
    started_at: NotRequired[str | None]
    finished_at: NotRequired[str | None]
    result: NotRequired[Any]
    error: NotRequired[str | None]
    worker: NotRequired[str | None]
    attempts: NotRequired[int | None]


class Schema(TypedDict):
    """The parts of a job's JSON Schema that `fpx jobs` shows."""

    type: NotRequired[str | list[str] | None]
    anyOf: NotRequired[list[Schema] | None]
    enum: NotRequired[list[Any] | None]
    items: NotRequired[Schema | bool | None]
    properties: NotRequired[dict[str, Schema] | None]
    required: NotRequired[list[str] | None]


class Job(TypedDict):
    name: str
    runs: str
    description: NotRequired[str]
    parameters: NotRequired[Schema | None]


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
    """Built on first use: a command pays for the one or two shapes it reads."""
    return TypeAdapter(SHAPES[index][3])
