"""`fpx task submit | get | list | cancel | wait`: background tasks, and following one."""

from __future__ import annotations

import enum
import time
import uuid
from typing import Annotated

import typer

from cli import completion
from cli.errors import CliError, ExitCode, WaitTimeout
from cli.session import Session, add_group_options, session_command

app = typer.Typer(
    no_args_is_help=True,
    help="Background tasks: submit, get, list, cancel, wait.",
)
add_group_options(app)

FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
POLL_INTERVAL = 0.2


class Status(enum.StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


class TaskDidNotSucceed(CliError):
    pass


TaskId = Annotated[uuid.UUID, typer.Argument(
    metavar="ID", help="The task's id (a UUID, as `fpx task submit` prints it).",
    show_default=False, autocompletion=completion.task_ids,
)]
WaitLimit = Annotated[float | None, typer.Option(
    "--timeout", metavar="SECONDS", min=0,
    help="Give up waiting after this long (exit 4); the task keeps running.",
    show_default="no limit",
)]


@app.command("submit")
@session_command()
def submit(
    s: Session,
    wait: Annotated[int, typer.Option(
        "--wait", "-w", metavar="SECONDS", min=0,
        help="How long the task runs, in whole seconds (0 to the server's FPX_MAX_WAIT).",
    )] = 5,
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
    it ends and exits as `fpx task wait` does.

    Examples:
      fpx task submit --wait 5
      fpx task submit --wait 5 --follow
      ID=$(fpx task submit --wait 5 --json | jq -r .id)
    """
    task = s.api.submit_task(wait, str(task_id) if task_id else None)
    if not follow:
        s.out.show(task, "task_submitted")
        return
    s.out.show_on_terminal(task, "task_submitted")
    follow_task(s, task, timeout)


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
    limit: Annotated[int | None, typer.Option(
        min=1, max=1000, help="At most this many (1-1000).", show_default="100",
    )] = None,
) -> None:
    """List tasks, newest first (GET /tasks).

    Example:
      fpx task list --status running
    """
    s.out.show(s.api.tasks(status.value if status else None, limit), "tasks")


@app.command("cancel")
@session_command()
def cancel_task(s: Session, task_id: TaskId) -> None:
    """Cancel a pending or running task (DELETE /tasks/ID).

    A finished one answers 409.

    Example:
      fpx task cancel 495f6ce5-4797-420d-8978-288f7b6459fb
    """
    s.out.show(s.api.cancel_task(str(task_id)), "task")


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
