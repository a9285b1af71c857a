"""The global options and the Session a command runs in.

`--url`, `--json`, `--request-timeout` and `--token` work before the subcommand (the root
callback keeps them in ctx.obj) and after it (`@session_command` adds them to the command):
`fpx --url U predict 3.5` and `fpx predict 3.5 --url U` are the same; given in both places, the
one after the subcommand wins. Each option is defined once, below, as an Annotated alias.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import UsageError as ClickUsageError  # typer's own click

from cli.errors import reported_errors
from cli.output import Output

if TYPE_CHECKING:
    from cli.client import ApiClient

# Also the client's; kept here so that defining the options does not import the client.
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_REQUEST_TIMEOUT = 5.0

GLOBAL_PANEL = "Global options (before or after the command)"

UrlOption = Annotated[str | None, typer.Option(
    "--url", metavar="URL", rich_help_panel=GLOBAL_PANEL, show_default=False,
    help="The fpx server. Default: $FPX_URL, else the server `fpx serve --detach` started,"
    f" else {DEFAULT_URL}.",
)]
JsonOption = Annotated[bool, typer.Option(
    # metavar="": a flag takes no value, which Typer's help would otherwise show as <bool>.
    "--json", metavar="", rich_help_panel=GLOBAL_PANEL, show_default=False,
    help="Print the server's data as JSON (the default when stdout is not a terminal).",
)]


# About 31 years: no clock or socket timeout needs to count further (1e10 s overflows them).
MAX_SECONDS = 1e9


def finite_number(value: float | None) -> float | None:
    """The callback of every float argument and option (directly, or through `seconds`):
    click's float takes nan and inf, and a min or max compares False or True with them."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, not {value}")
    return value


def seconds(value: float | None) -> float | None:
    """The callback of every SECONDS option: a finite number, at most MAX_SECONDS."""
    if finite_number(value) is not None and value > MAX_SECONDS:  # type: ignore[operator]
        raise typer.BadParameter("must be at most 1e9 seconds (about 31 years)")
    return value


def positive_seconds(value: float | None) -> float | None:
    if seconds(value) is not None and value <= 0:  # type: ignore[operator]
        raise typer.BadParameter("must be more than 0 seconds")
    return value


RequestTimeoutOption = Annotated[float | None, typer.Option(
    "--request-timeout", metavar="SECONDS", callback=positive_seconds, rich_help_panel=GLOBAL_PANEL,
    show_default=False,
    help=f"Seconds each HTTP request may take. Default: {DEFAULT_REQUEST_TIMEOUT:g}.",
)]
TokenOption = Annotated[str | None, typer.Option(
    "--token", metavar="TOKEN", rich_help_panel=GLOBAL_PANEL, show_default=False,
    help="API token, for a server started with one. Default: $FPX_API_TOKEN (better: other"
    " users can see a command line).",
)]


def hidden(option: Any) -> Any:
    """The same option, left out of the help (the root's, which names them in one line)."""
    kind, info = typing.get_args(option)
    info = copy.copy(info)
    info.hidden = True
    return Annotated[kind, info]


@dataclass(frozen=True)
class GlobalOptions:
    """The global options given so far: None (False for --json) when not given."""

    url: str | None = None
    json: bool = False
    request_timeout: float | None = None
    token: str | None = None

    def merged(self, given: dict[str, Any]) -> GlobalOptions:
        """These options overridden by the ones given later on the command line."""
        return replace(self, **{k: v for k, v in given.items() if v not in (None, False)})

    def given(self) -> list[str]:
        return [name for name in ALL_OPTIONS if getattr(self, name) not in (None, False)]

    @staticmethod
    def of(ctx: typer.Context) -> GlobalOptions:
        """The ones given before this command (to the root, and to its group)."""
        return ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()


# name in GlobalOptions -> (parameter name, annotation, default) on a command
_PARAMETERS: dict[str, tuple[str, Any, Any]] = {
    "url": ("url", UrlOption, None),
    "json": ("json_output", JsonOption, False),
    "request_timeout": ("request_timeout", RequestTimeoutOption, None),
    "token": ("token", TokenOption, None),
}
ALL_OPTIONS = tuple(_PARAMETERS)
# The same options, hidden, on a command they do not apply to: given there, they are refused
# with a clear message rather than click's "No such option".
_REFUSED: dict[str, Any] = {
    "url": Annotated[str | None, typer.Option("--url", hidden=True)],
    "json": Annotated[bool, typer.Option("--json", hidden=True)],
    "request_timeout": Annotated[str | None, typer.Option("--request-timeout", hidden=True)],
    "token": Annotated[str | None, typer.Option("--token", hidden=True)],
}
OPTION_NAMES = {name: f"--{name.replace('_', '-')}" for name in ALL_OPTIONS}


def add_group_options(app: typer.Typer) -> None:
    """Let the global options come between a group and its command: `fpx users --url U list`."""

    @app.callback()
    def group_options(
        ctx: typer.Context,
        url: UrlOption = None,
        json_output: JsonOption = False,
        request_timeout: RequestTimeoutOption = None,
        token: TokenOption = None,
    ) -> None:
        ctx.obj = GlobalOptions.of(ctx).merged({
            "url": url, "json": json_output, "request_timeout": request_timeout, "token": token,
        })


class Session:
    """What a command needs: its options, where its output goes, and a client for the server."""

    def __init__(self, options: GlobalOptions) -> None:
        self.options = options
        self.out = Output(json_mode=options.json)

    @property
    def explicit_url(self) -> str | None:
        from cli.client import check_url

        return check_url(self.options.url) if self.options.url else None

    @cached_property
    def url(self) -> str:
        """--url, else $FPX_URL, else the detached server's record, else the default."""
        from cli import state
        from cli.client import check_url

        if self.options.url:
            return check_url(self.options.url)
        if env_url := os.environ.get("FPX_URL"):
            return check_url(env_url, "FPX_URL")
        try:
            record = state.running()
        except state.StateDirError as exc:  # no record to go by: the default is as good
            self.out.warn(f"{exc.message}; trying {DEFAULT_URL}")
            return DEFAULT_URL
        return record.url if record is not None else DEFAULT_URL

    @cached_property
    def token(self) -> str | None:
        """--token, else $FPX_API_TOKEN; UsageError if it could not be sent (never shown)."""
        from cli.tokens import check_token

        if self.options.token:
            return check_token(self.options.token, "--token")
        if env_token := os.environ.get("FPX_API_TOKEN"):
            return check_token(env_token, "FPX_API_TOKEN")
        return None

    @property
    def request_timeout(self) -> float:
        return self.options.request_timeout or DEFAULT_REQUEST_TIMEOUT

    def client(self, url: str | None = None) -> ApiClient:
        from cli.client import ApiClient

        return ApiClient(url or self.url, timeout=self.request_timeout, token=self.token)

    @cached_property
    def api(self) -> ApiClient:
        return self.client()

    def close(self) -> None:
        if "api" in self.__dict__:
            self.api.close()


def session_command(
    *, uses: tuple[str, ...] = ALL_OPTIONS, own: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a function taking a Session first into a Typer command with the global options.

    `uses` names the global options the command takes (all by default): they are added to its
    signature, merged with the ones given before it, and turned into the Session passed in.
    `own` names those it defines itself, with a meaning of its own (`fpx serve --token`):
    given before the command, they are in `s.options`. Any other global option, before or
    after the command, is bad usage (exit 2) naming the option, never silently ignored.
    A CliError raised by the command becomes its message on stderr and its exit code.
    """
    refused = [name for name in ALL_OPTIONS if name not in uses and name not in own]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        own_params = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]
        added = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
        for name in ALL_OPTIONS:
            if name in uses or name in refused:
                param, annotation, default = _PARAMETERS[name]
                added.append(inspect.Parameter(
                    param, inspect.Parameter.KEYWORD_ONLY, default=default,
                    annotation=annotation if name in uses else _REFUSED[name],
                ))

        @functools.wraps(fn)
        def command(*args: Any, ctx: typer.Context, **kwargs: Any) -> Any:
            given = {
                name: kwargs.pop(_PARAMETERS[name][0]) for name in ALL_OPTIONS
                if name in uses or name in refused
            }
            options = GlobalOptions.of(ctx).merged(given)
            for name in options.given():
                if name in refused:
                    message = f"{OPTION_NAMES[name]} does not apply to this command"
                    raise ClickUsageError(message, ctx=ctx)
            with reported_errors():
                session = Session(options)
                try:
                    if "token" in uses:
                        session.token  # noqa: B018 - checked before anything is done
                    return fn(session, *args, **kwargs)
                finally:
                    session.close()

        parameters = [*own_params, *added]
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command

    return decorate
