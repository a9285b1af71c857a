"""The one place that prints a command's result: rich on a terminal, JSON otherwise.

JSON (the server's data, one document) is printed when --json is given or stdout is not a
terminal, so `fpx task submit --wait 5 | jq -r .id` works. rich is imported only when something
is rendered for a terminal: the JSON path of a client command never pays for it.
TTY_COMPATIBLE=1/0 (rich's own switch) forces either way, e.g. for tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console


def stdout_is_terminal() -> bool:
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stdout.isatty()


class Output:
    def __init__(self, *, json_mode: bool = False) -> None:
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

            self.console.print(getattr(render, renderer)(data))

    def print_json(self, data: Any) -> None:
        import json  # here: `fpx --help` needs none

        # Indented for a person reading a terminal, one line for a pipe.
        text = json.dumps(data, indent=2 if self.terminal else None, ensure_ascii=False)
        sys.stdout.write(text + "\n")
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
            TextColumn("{task.fields[left]}"),
            console=self.console,
        ) as progress:
            bar = progress.add_task(render.task_line(task), total=1.0, left="")

            def update(task: dict) -> None:
                progress.update(
                    bar, completed=task["progress"], description=render.task_line(task),
                    left=render.time_left(task),
                )

            update(task)
            yield update


def _remark(text: str, **style: Any) -> None:
    # A remark must never fail the command: stderr may be closed (`fpx serve 2>&1 | head`).
    with suppress(OSError, ValueError):
        typer.secho(text, err=True, **style)
