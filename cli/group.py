"""The root command group: each command's module is imported only when that command runs.

`fpx --help` lists every command from a table of names and one-line helps (cli/main.py), so it
imports no command module; `fpx predict 3.5` imports cli.commands.predict and nothing else of
the other commands. Bad usage gets one red line naming the command and the problem, instead of
typer's usage-and-box block; the exit code stays 2.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click
from typer.core import TyperCommand, TyperGroup

from cli.errors import ExitCode, print_error


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: its module's `app` holds it (as `name`), or is it (`whole_app`)."""

    module: str
    help: str
    whole_app: bool = False


class _Listed(TyperCommand):
    """What the root's help shows of a command not loaded yet: its name and one-line help."""


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as exc:
        where = f"{exc.ctx.command_path}: " if exc.ctx else ""
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        print_error(f"{where}{exc.format_message()}{hint}")
        raise typer.Exit(int(ExitCode.USAGE)) from None


class LazyGroup(TyperGroup):
    """A root group whose `lazy_commands`, modules of `package`, are loaded on first use
    (set both on a subclass)."""

    package = ""
    lazy_commands: Mapping[str, LazyCommand] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, where in self.lazy_commands.items():
            self.commands.setdefault(name, _Listed(name, help=where.help))

    def load(self, name: str) -> Any:
        """The real command `name`, importing its module the first time."""
        command = self.commands[name]
        if isinstance(command, _Listed):
            where = self.lazy_commands[name]
            module = importlib.import_module(f"{self.package}.{where.module}")
            group = typer.main.get_group(module.app)
            command = group if where.whole_app else group.commands[name]
            command.name = name
            self.commands[name] = command
        return command

    def make_context(self, *args: Any, **kwargs: Any) -> typer.Context:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(command, _Listed):
            command = self.load(name)
        return name, command, rest

    def invoke(self, ctx: typer.Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)
