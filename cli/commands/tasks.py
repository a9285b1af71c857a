"""`fpx task submit | get | list | cancel | delete | wait`: background tasks, and following one.

`fpx task submit [JOB] [ARG]...` takes a job's args in HTTPie's syntax, `key=value` for a
string and `key:=json` for any JSON value, so that what a shell user already knows works.
"""

from __future__ import annotations

import enum
import json
import time
import uuid
from typing import Annotated, Any

import typer

from cli import completion
from cli.errors import CliError, ExitCode, UsageError, WaitTimeout
from cli.session import Session, add_group_options, positive_seconds, session_command

app = typer.Typer(
    no_args_is_help=True,
    help="Background tasks: submit, get, list, cancel, delete, wait.",
)
add_group_options(app)

FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
POLL_INTERVAL = 0.2
DEFAULT_WAIT = 5  # seconds of a sleep submitted with no wait_time, as before jobs had args


class Status(enum.StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


class TaskDidNotSucceed(CliError):
    pass


TASK_ID_HELP = "The task's id (a UUID, as `fpx task submit` prints it)."
TaskId = Annotated[uuid.UUID, typer.Argument(
    metavar="ID", help=TASK_ID_HELP, show_default=False, autocompletion=completion.task_ids,
)]
UnfinishedTaskId = Annotated[uuid.UUID, typer.Argument(
    metavar="ID", help=TASK_ID_HELP, show_default=False,
    autocompletion=completion.unfinished_task_ids,
)]
FinishedTaskId = Annotated[uuid.UUID, typer.Argument(
    metavar="ID", help=TASK_ID_HELP, show_default=False,
    autocompletion=completion.finished_task_ids,
)]
WaitLimit = Annotated[float | None, typer.Option(
    "--timeout", metavar="SECONDS", min=0,
    help="Give up waiting after this long (exit 4); the task keeps running.",
    show_default="no limit",
)]


Args = Annotated[list[str] | None, typer.Argument(
    metavar="JOB ARG", show_default=False, autocompletion=completion.job_and_args,
    help="The job (see `fpx jobs`; default: sleep), then its args as HTTPie writes them:"
    " key=value for a string, key:=json for any JSON value.",
)]


@app.command("submit")
@session_command()
def submit(
    s: Session,
    words: Args = None,
    wait: Annotated[int | None, typer.Option(
        "--wait", "-w", metavar="SECONDS", min=0,
        help="Shorthand for `sleep wait_time:=SECONDS`.",
        show_default=f"{DEFAULT_WAIT} when sleep gets no wait_time",
    )] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", metavar="SECONDS", callback=positive_seconds,
        help="Stop the job and fail the task after this long.",
        show_default="the server's FPX_JOB_TIME_LIMIT",
    )] = None,
    task_id: Annotated[uuid.UUID | None, typer.Option(
        "--id", metavar="UUID",
        help="Choose the task's id instead of letting the server choose one.",
        show_default=False,
    )] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", metavar="",
        help="Then follow it to the end, as `fpx task wait` does.",
    )] = False,
    timeout: WaitLimit = None,
) -> None:
    """Submit a background task (POST /tasks).

    Prints its id and how to look it up. With --follow, shows its progress until
    it ends, then its result, and exits as `fpx task wait` does.

    Examples:
      fpx task submit --wait 5
      fpx task submit predict_batch inputs:='[1, 2.5, -3]' --follow
      fpx task submit predict_batch inputs:='[1, 2]' model=answer_to_everything
      ID=$(fpx task submit --wait 5 --json | jq -r .id)
    """
    job, args = job_and_args(words or [], wait)
    task = s.api.submit_task(
        job, args, task_id=str(task_id) if task_id else None, time_limit=time_limit
    )
    if not follow:
        s.out.show(task, "task_submitted")
        return
    s.out.show_on_terminal(task, "task_submitted")
    follow_task(s, task, timeout)


def job_and_args(words: list[str], wait: int | None) -> tuple[str, dict[str, Any]]:
    """`[JOB] [ARG]...` and --wait as the job's name and args; UsageError for bad ones."""
    job = "sleep"
    if words and "=" not in words[0]:  # a job's name never has one; an ARG always does
        job, words = words[0], words[1:]
    args: dict[str, Any] = {}
    for word in words:
        key, value = parse_arg(word)
        if key in args:
            raise UsageError(f"ARG {word!r}: {key} is given twice")
        args[key] = value
    if wait is not None:
        if job != "sleep" or "wait_time" in args:
            raise UsageError("--wait is shorthand for `sleep wait_time:=N`: give one or the other")
        args["wait_time"] = wait
    elif job == "sleep" and not args:
        args["wait_time"] = DEFAULT_WAIT
    return job, args


def parse_arg(word: str) -> tuple[str, Any]:
    """HTTPie's syntax: `key=value` (a string) or `key:=json` (any JSON value)."""
    sep = word.find("=")
    if sep < 0:
        raise UsageError(f"ARG {word!r} is not key=value (a string) or key:=json (any JSON)")
    as_json = sep > 0 and word[sep - 1] == ":"
    key = word[: sep - 1] if as_json else word[:sep]
    if not key:
        raise UsageError(f"ARG {word!r} has no key before its {'=' if not as_json else ':='}")
    value = word[sep + 1:]
    if not as_json:
        return key, value
    try:
        return key, json.loads(value)
    except ValueError as exc:
        raise UsageError(f"ARG {word!r}: {key}:= needs a JSON value ({exc})") from None


@app.command("get")
@session_command()
def get_task(s: Session, task_id: TaskId) -> None:
    """Show a task's status, progress and result (GET /tasks/ID).

    Example:
      fpx task get 495f6ce5-4797-420d-8978-288f7b6459fb
    """
    s.out.show(s.api.task(str(task_id)), "task")


@app.command("list")
@session_command()
def list_tasks(
    s: Session,
    status: Annotated[Status | None, typer.Option(
        "--status", help="Only tasks in this state.", show_default=False,
    )] = None,
    job: Annotated[str | None, typer.Option(
        "--job", metavar="NAME", help="Only tasks of this job.", show_default=False,
    )] = None,
    limit: Annotated[int | None, typer.Option(
        min=1, max=1000, help="At most this many (1-1000).", show_default="100",
    )] = None,
) -> None:
    """List tasks, newest first (GET /tasks).

    Examples:
      fpx task list --status running
      fpx task list --job predict_batch
    """
    s.out.show(s.api.tasks(status.value if status else None, limit, job), "tasks")


@app.command("cancel")
@session_command()
def cancel_task(s: Session, task_id: UnfinishedTaskId) -> None:
    """Cancel a pending or running task (POST /tasks/ID/cancel).

    The task stays, cancelled, until `fpx task delete` removes it (or the server's
    FPX_TASK_RETENTION does). A finished one answers 409.

    Example:
      fpx task cancel 495f6ce5-4797-420d-8978-288f7b6459fb
    """
    s.out.show(s.api.cancel_task(str(task_id)), "task")


@app.command("delete")
@session_command()
def delete_task(s: Session, task_id: FinishedTaskId) -> None:
    """Delete a finished task (DELETE /tasks/ID).

    A pending or running one answers 409: cancel it first.

    Example:
      fpx task delete 495f6ce5-4797-420d-8978-288f7b6459fb
    """
    s.api.delete_task(str(task_id))
    s.out.show({"id": str(task_id), "deleted": True}, "task_deleted")


@app.command("wait")
@session_command()
def wait_task(s: Session, task_id: TaskId, timeout: WaitLimit = None) -> None:
    """Wait until a task finishes, with a progress bar on a terminal, then show it.

    Exits 0 when it succeeded, 1 when it failed, was cancelled or interrupted,
    4 when --timeout ran out first. On a non-terminal, prints only the final
    task (as JSON).

    Example:
      fpx task wait 495f6ce5-4797-420d-8978-288f7b6459fb --timeout 30
    """
    follow_task(s, s.api.task(str(task_id)), timeout)


def follow_task(s: Session, task: dict, timeout: float | None) -> None:
    """Poll the task until it ends or `timeout` runs out; show it; exit by its outcome."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with s.out.task_progress(task) as update:
            while task["status"] not in FINISHED:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                time.sleep(POLL_INTERVAL if left is None else min(POLL_INTERVAL, left))
                task = s.api.task(task["id"])
                update(task)
    except KeyboardInterrupt:
        s.out.note(f"stopped waiting; the task goes on: fpx task wait {task['id']}")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    s.out.show(task, "task")
    status = task["status"]
    if status not in FINISHED:
        raise WaitTimeout(
            f"task {task['id']} is still {status} after {timeout:g} s",
            [f"keep waiting: fpx task wait {task['id']}"],
        )
    if status != "succeeded":
        why = f": {task['error']}" if task.get("error") else ""
        raise TaskDidNotSucceed(f"task {task['id']} {status}{why}")
