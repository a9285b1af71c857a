"""The one place that prints a command's result: rich on a terminal, JSON otherwise.

JSON (the server's data, one document) is printed when --json is given or stdout is not a
terminal, so `fpx task submit --wait 5 | jq -r .id` works. rich is imported only when something
is rendered for a terminal: the JSON path of a client command never pays for it.
TTY_COMPATIBLE=1/0 (rich's own switch) forces either way, e.g. for tests.

Everything from the server passes `visible_data` before it is rendered (cli/visible.py), and
JSON leaves no control character raw. Output that cannot be written (stdout closed, a full
disk) is an OutputError, one line and exit 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

import typer

from cli.errors import CliError, no_color
from cli.visible import json_for_terminal, visible, visible_data

if TYPE_CHECKING:
    from rich.console import Console


class OutputError(CliError):
    """The output could not be written (exit 1)."""


def stdout_is_terminal() -> bool:
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stdout is not None and sys.stdout.isatty()


@contextmanager
def writing() -> Iterator[None]:
    """Writes to stdout inside: one that fails is an OutputError (a reader that went away,
    `fpx logs | head`, quietly, as other tools do). stdout then goes to /dev/null, so that
    Python's own flush at exit does not fail again with a traceback."""
    try:
        yield
    except OSError as exc:
        with suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        if isinstance(exc, BrokenPipeError):
            raise OutputError("") from None  # no message: the reader chose to stop
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


class Output:
    def __init__(self, *, json_mode: bool = False) -> None:
        if sys.stdout is None:  # started with stdout closed (`fpx predict 1 >&-`)
            raise OutputError("stdout is closed: nowhere to print the result; nothing was done")
        self.terminal = stdout_is_terminal()
        self.json = json_mode or not self.terminal

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console(highlight=False)

    def show(self, data: Any, renderer: str) -> None:
        """`data` as JSON, or on a terminal as cli.render's function named `renderer` shows it.

        Named rather than passed, so that JSON output never imports rich."""
        if self.json:
            self.print_json(data)
        else:
            from cli import render

            renderable = getattr(render, renderer)(visible_data(data))
            with writing():
                self.console.print(renderable)

    def print_json(self, data: Any) -> None:
        import json  # here: `fpx --help` needs none

        # Indented for a person reading a terminal, one line for a pipe.
        text = json.dumps(data, indent=2 if self.terminal else None, ensure_ascii=False)
        with writing():
            sys.stdout.write(json_for_terminal(text) + "\n")
            sys.stdout.flush()

    def show_on_terminal(self, data: Any, renderer: str) -> None:
        """Like `show`, but nothing in JSON mode: for what goes around the data (hints)."""
        if not self.json:
            self.show(data, renderer)

    @staticmethod
    def note(text: str) -> None:
        """A remark about what fpx is doing, on stderr so it never mixes with the data."""
        _remark(text, dim=True)

    @staticmethod
    def warn(text: str) -> None:
        _remark(f"warning: {text}", fg="yellow")

    @contextmanager
    def task_progress(self, task: dict) -> Iterator[Callable[[dict], None]]:
        """A progress bar for a task on a terminal; yields the function to update it with."""
        if self.json:
            yield lambda task: None
            return
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        from cli import render

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[left]}", markup=False),  # the job's note: never markup
            console=self.console,
        ) as progress:
            bar = progress.add_task(render.task_line(visible_data(task)), total=1.0, left="")

            def update(task: dict) -> None:
                task = visible_data(task)
                progress.update(
                    bar, completed=task["progress"], description=render.task_line(task),
                    left=render.time_left(task),
                )

            update(task)
            yield update


def _remark(text: str, **style: Any) -> None:
    # A remark must never fail the command: stderr may be closed (`fpx serve 2>&1 | head`).
    with suppress(OSError, ValueError):
        typer.secho(visible(text), err=True, color=False if no_color() else None, **style)
