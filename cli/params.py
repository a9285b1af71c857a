"""Reading command-line values without pydantic.

This typer converts every value of the command being run through a pydantic TypeAdapter:
importing pydantic and building the adapters takes about 60 ms, half the run time of
`fpx predict 3.5` (profiled: typer._coercion.build_runtime_param, 91 of 120 ms). fpx's
parameters have plain types (str, int, float, bool, UUID, an Enum), so `use_plain_parsers`
gives each of those a direct converter doing the same checks (min/max, choices); a path goes
through typer's own checks (dir_okay...) once it is a Path, a repeatable option converts each
value. Parameters of other types would keep typer's coercion. For `fpx serve` (a path and a
repeatable option) pydantic cost ~55 ms before the server could even be spawned.

It sets typer's per-parameter cache of that converter (`_runtime_param`). Should a typer
release drop it, nothing breaks: typer's pydantic coercion runs as before, and
tests/cli/test_startup.py notices pydantic being imported.
"""

from __future__ import annotations

import enum
import typing
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

try:
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_path
except ImportError:  # pragma: no cover - another typer: keep its coercion
    RuntimeParam = None  # type: ignore[assignment,misc]

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}

Convert = Callable[[Any], Any]


def _number(kind: type, low: float | None, high: float | None) -> Convert:
    name = "an integer" if kind is int else "a number"

    def convert(value: Any) -> Any:
        try:
            number = value if type(value) is kind else kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not {name}") from None
        if low is not None and number < low:
            raise ValueError(f"{number} is less than the minimum, {low}")
        if high is not None and number > high:
            raise ValueError(f"{number} is more than the maximum, {high}")
        return number

    return convert


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{value!r} is not a boolean (true/false, yes/no, 1/0)")


def _uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID") from None


def _choice(kind: type[enum.Enum], case_sensitive: bool) -> Convert:
    def fold(text: str) -> str:
        return text if case_sensitive else text.lower()

    members = {fold(str(member.value)): member for member in kind}

    def convert(value: Any) -> enum.Enum:
        if isinstance(value, kind):
            return value
        try:
            return members[fold(str(value))]
        except KeyError:
            allowed = ", ".join(str(member.value) for member in kind)
            raise ValueError(f"{value!r} is not one of {allowed}") from None

    return convert


def _path(info: Any) -> Convert:
    def convert(value: Any) -> Path:
        if not isinstance(value, str | Path):
            raise ValueError(f"{value!r} is not a path")
        return coerce_cli_path(Path(value), info, path_type=Path)  # its own checks, no pydantic

    return convert


def _each(convert: Convert) -> Convert:
    def convert_all(values: Any) -> list[Any]:
        return [convert(value) for value in values]

    return convert_all


def plain_converter(annotation: Any, info: Any) -> Convert | None:
    """A converter for a plain annotation, or None to leave the parameter to typer."""
    if typing.get_origin(annotation) is list and len(typing.get_args(annotation)) == 1:
        item = plain_converter(typing.get_args(annotation)[0], info)
        return _each(item) if item is not None else None
    if annotation is Path and not info.allow_dash and info.path_type is None:
        return _path(info)
    if annotation is bool:
        return _boolean
    if annotation in (int, float):
        return _number(annotation, info.min, info.max)
    if annotation is str:
        return _text
    if annotation is uuid.UUID:
        return _uuid
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _choice(annotation, info.case_sensitive)
    return None


if RuntimeParam is not None:

    class PlainRuntimeParam(RuntimeParam):
        # Not a dataclass of its own: defining one costs ~0.5 ms of every fpx command.
        def __init__(self, *, parameter_info: Any, annotation: Any, convert: Convert) -> None:
            super().__init__(parameter_info=parameter_info, annotation=annotation)
            object.__setattr__(self, "convert", convert)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None
            except typer.BadParameter as exc:  # typer's path checks: say which parameter
                exc.ctx, exc.param = ctx, param
                raise


def use_plain_parsers(command: Any, ctx: typer.Context, recurse: bool = True) -> None:
    """Give every plain parameter of `command` (and its sub-commands) a direct converter.

    Their help options too: each command makes its own when first asked (and keeps it), so
    it is asked here, with the root's context, whose help option names they all inherit."""
    if RuntimeParam is None:
        return
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option else [])]:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or not hasattr(param, "_runtime_param"):
            continue
        convert = plain_converter(descriptor.annotation, descriptor.parameter_info)
        if convert is not None:
            param._runtime_param = PlainRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                convert=convert,
            )
    for sub in getattr(command, "commands", {}).values() if recurse else ():
        use_plain_parsers(sub, ctx)
