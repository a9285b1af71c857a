"""The checks `fpx check` runs: every endpoint and feature, each with what it expects and got.

Each check is one request (or, for a task, one submission followed to its end) and a
verdict; a failed check never stops the run, so the table shows everything at once. The
only exception: when the very first request finds no server, there is nothing to check.

The checks write: they add an item and submit tasks. Every task gets an id chosen here, kept
before it is sent, so that `clean_up` can cancel and delete each one, and delete the items
left, whatever stopped the checks (a failure, Ctrl-C, an answer that never came).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cli.client import ApiClient, Reply
from cli.errors import CliError, Unreachable, describe_detail

TASK_EXTRA_TIME = 15.0  # how long past its wait_time a task may take to be seen succeeded
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class CheckResult:
    check: str
    ok: bool
    expected: str
    got: str
    ms: float


def summary(data: Any) -> str:
    """A description of an answer, for the `got` column: whole, never cut (a terminal's table
    wraps it)."""
    if isinstance(data, dict):
        return _describe_object(data)
    if isinstance(data, list):
        if data and all(isinstance(d, dict) and "username" in d for d in data):
            return ", ".join(str(d["username"]) for d in data)
        if data and all(isinstance(d, dict) and ("load_ms" in d or "runs" in d) for d in data):
            return ", ".join(str(d.get("name")) for d in data)
        return f"a list of {len(data)}"
    return "no body" if data is None else str(data)


def _describe_object(data: dict) -> str:
    if "detail" in data:
        return describe_detail(data["detail"])
    if "openapi" in data:
        return f"OpenAPI {data['openapi']}, {len(data.get('paths', {}))} paths"
    if "result" in data and "model" in data:
        return f"result {data['result']!r}"
    if "username" in data:
        return str(data["username"])
    if "name" in data:
        return f"item {data.get('id')} {data['name']!r}"
    if "status" in data:
        return str(data["status"])
    if data and all(isinstance(v, int) for v in data.values()):
        return ", ".join(f"{n} {k}" for k, n in data.items() if n) or "all 0"
    return str(data)


class Checks:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.results: list[CheckResult] = []
        # What the checks made: every task id, recorded before its submission was sent, and
        # the items added and not yet deleted.
        self.tasks: list[str] = []
        self.items: set[int] = set()

    def call(
        self, name: str, method: str, path: str, *, status: int, expect: str = "",
        test: Callable[[Any], bool] = lambda data: True, params: dict | None = None,
        body: object = None, seen: Callable[[Reply], None] = lambda reply: None,
    ) -> Reply | None:
        """One request, recorded as a check; its reply if the check passed. `seen` gets any
        reply, passed or not."""
        started = time.perf_counter()
        reply: Reply | None = None
        try:
            reply = self.api.request(method, path, params=params, body=body, ok=None)
            seen(reply)
            ok = reply.status == status and _passes(test, reply.data)
            got = f"{reply.status} {summary(reply.data)}"
        except Unreachable:
            if not self.results:
                raise
            ok, got = False, "no answer"
        except CliError as exc:
            ok, got = False, exc.message
        self._record(name, ok, f"{status} {expect}".strip(), got, started)
        return reply if ok else None

    def submit(
        self, name: str, body: dict, *, expect: str, test: Callable[[Any], bool] = lambda d: True,
    ) -> Reply | None:
        """POST /tasks with an id chosen here, recorded first: clean_up finds the task even
        when its answer never came."""
        task_id = str(uuid.uuid4())
        self.tasks.append(task_id)
        return self.call(name, "POST", "/tasks", status=202, expect=expect, test=test,
                         body={**body, "id": task_id})

    def add_item(self, name: str, body: dict, *, expect: str,
                 test: Callable[[Any], bool]) -> Reply | None:
        def created(reply: Reply) -> None:
            if reply.status == 201 and isinstance(reply.data, dict):
                item_id = reply.data.get("id")
                if isinstance(item_id, int) and not isinstance(item_id, bool):
                    self.items.add(item_id)

        return self.call(name, "POST", "/items", status=201, expect=expect, body=body,
                         test=test, seen=created)

    def delete_item(self, name: str, item_id: int) -> None:
        def gone(reply: Reply) -> None:
            if reply.status in (204, 404):
                self.items.discard(item_id)

        self.call(name, "DELETE", f"/items/{item_id}", status=204, expect="no body", seen=gone)

    def clean_up(self) -> list[str]:
        """Cancel, then delete, every task the checks submitted, and delete the items they
        added and did not delete. What could not be removed, each with why."""
        left: list[str] = []
        # A fresh connection: an interrupt may have cut the last request half-way.
        self.api.close()
        for task_id in self.tasks:
            try:
                # 409 when it already finished, 404 when its submission never arrived.
                self.api.request("POST", f"/tasks/{task_id}/cancel", ok=None)
                reply = self.api.request("DELETE", f"/tasks/{task_id}", ok=None)
            except CliError as exc:
                left.append(f"task {task_id} ({exc.message})")
                continue
            if reply.status not in (204, 404):
                left.append(f"task {task_id} ({reply.status} {summary(reply.data)})")
        for item_id in sorted(self.items):
            try:
                reply = self.api.request("DELETE", f"/items/{item_id}", ok=None)
            except CliError as exc:
                left.append(f"item {item_id} ({exc.message})")
                continue
            if reply.status not in (204, 404):
                left.append(f"item {item_id} ({reply.status} {summary(reply.data)})")
        self.tasks, self.items = [], set()
        return left

    def record_clean_up(self, made: str) -> None:
        """clean_up, as the last check."""
        started = time.perf_counter()
        left = self.clean_up()
        got = f"left {'; '.join(left)}" if left else "all removed"
        self._record("removes what it made", not left, f"{made} removed", got, started)

    def _record(self, name: str, ok: bool, expected: str, got: str, started: float) -> None:
        ms = round((time.perf_counter() - started) * 1000, 1)
        self.results.append(CheckResult(name, ok, expected, got, ms))

    def task_finishes(self, name: str, task: dict, want: str, result: Any) -> None:
        """Follow a submitted task until it ends; pass if it ends `want` with `result`."""
        started = time.perf_counter()
        allowed = (task.get("wait_time") or 0) + TASK_EXTRA_TIME
        deadline = time.monotonic() + allowed
        got = "no answer"
        ok = False
        while time.monotonic() < deadline:
            try:
                task = self.api.task(task["id"])
            except CliError as exc:
                got = exc.message
                break
            outcome = task.get("result") or task.get("error") or ""
            got = f"{task['status']} {outcome}".strip()
            if task["status"] not in ("pending", "running"):
                ok = task["status"] == want and task.get("result") == result
                ok = ok and task["progress"] == 1.0
                break
            time.sleep(POLL_INTERVAL)
        else:
            got = f"still {task['status']} after {allowed:g} s"
        self._record(name, ok, f"{want} {result!r}, progress 1.0", got, started)


def _passes(test: Callable[[Any], bool], data: Any) -> bool:
    try:
        return bool(test(data))
    except (KeyError, TypeError, IndexError, AttributeError):
        return False


def run_checks(c: Checks) -> None:
    """Every check against the server behind `c.api`, into `c.results`. What they make stays
    in `c.tasks` and `c.items` until `c.clean_up()` (the caller's, however this ends)."""
    tag = uuid.uuid4().hex[:8]

    c.call("alive", "GET", "/livez", status=200, expect="alive",
           test=lambda d: d["status"] == "alive")
    c.call("ready", "GET", "/readyz", status=200, expect="ready",
           test=lambda d: d["status"] == "ready" and "answer_to_everything" in d["models"])
    c.call("openapi document", "GET", "/openapi.json", status=200, expect="fpx's API",
           test=lambda d: d["info"]["title"] == "fpx" and "/tasks/{task_id}" in d["paths"])
    c.call("models", "GET", "/models", status=200, expect="answer_to_everything loaded",
           test=lambda d: any(m["name"] == "answer_to_everything" for m in d))

    for x, result in (("3.5", 147.0), ("-2.5", -105.0)):
        c.call(f"predict x={x}", "GET", "/predict", params={"x": x}, status=200,
               expect=f"result {result!r}", test=lambda d, r=result: d["result"] == r)
    for x in ("inf", "nan"):
        c.call(f"predict x={x} rejected", "GET", "/predict", params={"x": x}, status=422,
               expect="not finite")
    c.call("predict unknown model", "GET", "/predict", status=404, expect="model not found",
           params={"x": "1", "model": f"no-such-model-{tag}"})

    c.call("users list", "GET", "/users", status=200, expect="Rick and Morty",
           test=lambda d: {"Rick", "Morty"} <= {u["username"] for u in d})
    c.call("users me", "GET", "/users/me", status=200, expect="the current user",
           test=lambda d: bool(d["username"]))
    c.call("users get Rick", "GET", "/users/Rick", status=200, expect="Rick",
           test=lambda d: d["username"] == "Rick")
    c.call("users get unknown", "GET", f"/users/nobody-{tag}", status=404, expect="not found")
    c.call("users get malformed name", "GET", "/users/bad%20name", status=422,
           expect="invalid name")

    name = f"fpx check {tag}"
    added = c.add_item("items add", {"name": name, "description": "made by fpx check"},
                       expect="the item with an id",
                       test=lambda d: d["name"] == name and d["id"] >= 1)
    if added is not None:
        item_id = added.data["id"]
        c.call("items get", "GET", f"/items/{item_id}", status=200, expect=repr(name),
               test=lambda d: d["id"] == item_id and d["name"] == name)
        c.call("items list", "GET", "/items", params={"limit": 5}, status=200,
               expect="a list", test=lambda d: isinstance(d, list))
        c.delete_item("items delete", item_id)
        c.call("items get deleted", "GET", f"/items/{item_id}", status=404, expect="not found")
        c.call("items delete again", "DELETE", f"/items/{item_id}", status=404,
               expect="not found")
    c.call("items get id 0 rejected", "GET", "/items/0", status=422, expect="invalid id")
    c.call("items add empty name rejected", "POST", "/items", status=422,
           body={"name": ""}, expect="invalid name")

    short = c.submit("task submit", {"wait_time": 1}, expect="pending, with an id",
                     test=lambda d: d["status"] == "pending")
    if short is not None:
        c.task_finishes("task runs to the end", short.data, "succeeded", "task done after 1")
    long = c.submit("task submit (to cancel)", {"wait_time": 60}, expect="pending")
    if long is not None:
        task_id = long.data["id"]
        c.call("task cancel", "POST", f"/tasks/{task_id}/cancel", status=200,
               expect="cancelled", test=lambda d: d["status"] == "cancelled")
        c.call("task cancel again", "POST", f"/tasks/{task_id}/cancel", status=409,
               expect="already finished")
        c.call("task delete", "DELETE", f"/tasks/{task_id}", status=204, expect="no body")
        c.call("task get deleted", "GET", f"/tasks/{task_id}", status=404, expect="not found")
    c.call("task bad wait_time rejected", "POST", "/tasks", status=422,
           body={"wait_time": -1}, expect="invalid wait_time")
    c.call("jobs", "GET", "/jobs", status=200, expect="sleep, predict_batch, ...",
           test=lambda d: {"sleep", "predict_batch"} <= {j["name"] for j in d})
    inputs, results = [1, 2.5, -3], [42.0, 105.0, -126.0]
    batch = c.submit("predict_batch submit", {"job": "predict_batch", "args": {"inputs": inputs}},
                     expect="pending",
                     test=lambda d: d["job"] == "predict_batch" and d["status"] == "pending")
    if batch is not None:
        c.task_finishes("predict_batch runs to its result", batch.data, "succeeded", results)
    c.call("task bad args rejected", "POST", "/tasks", status=422, expect="invalid args.inputs",
           body={"job": "predict_batch", "args": {"inputs": "1, 2"}},
           test=lambda d: d["detail"][0]["loc"] == ["body", "args", "inputs"])
    c.call("task get unknown", "GET", f"/tasks/{uuid.uuid4()}", status=404, expect="not found")
    c.call("task get not a UUID", "GET", "/tasks/not-a-uuid", status=422, expect="invalid id")
    c.call("tasks list", "GET", "/tasks", params={"limit": 10}, status=200, expect="a list",
           test=lambda d: isinstance(d, list))
    c.call("tasks counts", "GET", "/tasks/counts", status=200, expect="a count per status",
           test=lambda d: set(d) >= {"pending", "running", "succeeded", "failed", "cancelled",
                                     "interrupted"})


def made(c: Checks) -> str:
    """What the checks made and still hold, in words: `3 tasks and 1 item`."""
    return f"{_count(len(c.tasks), 'task')} and {_count(len(c.items), 'item')}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def report(c: Checks) -> list[dict]:
    return [asdict(r) for r in c.results]
