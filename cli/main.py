"""The root `fpx` command: global options, the sub-apps, and the console-script entry point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click
from typer.core import TyperGroup

from cli.commands import check, detached, health, items, predict, serve, tasks, users
from cli.errors import EXIT_CODES_HELP, ExitCode, print_error
from cli.params import use_plain_parsers
from cli.session import GlobalOptions, JsonOption, RequestTimeoutOption, TokenOption, UrlOption


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


class FpxGroup(TyperGroup):
    """Bad usage gets one red line naming the command and the problem, instead of typer's
    usage-and-box block; the exit code stays 2. Sub-commands are parsed inside `invoke`.
    Values are read by plain converters, not pydantic (see cli/params.py)."""

    def make_context(self, *args: Any, **kwargs: Any) -> typer.Context:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        use_plain_parsers(self, ctx)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


app = typer.Typer(
    name="fpx",
    cls=FpxGroup,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for group in (serve, detached, predict, health, check):
    app.add_typer(group.app)
app.add_typer(users.app, name="users")
app.add_typer(items.app, name="items")
app.add_typer(tasks.app, name="task")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"fpx {version('fpx')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: UrlOption = None,
    json_output: JsonOption = False,
    request_timeout: RequestTimeoutOption = None,
    token: TokenOption = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print fpx's version and exit.",
    )] = False,
) -> None:
    """Launch, call and check the fpx server (a reference FastAPI service).

    Start a server with `fpx serve` (or `fpx serve --detach`), then call it:
    `fpx predict 3.5`, `fpx task submit --wait 5 --follow`, `fpx check`.
    Output is rich on a terminal and JSON (the server's data) with --json or in a pipe.
    """
    ctx.obj = GlobalOptions(url, json_output, request_timeout, token)


def main() -> None:
    app(prog_name="fpx")
