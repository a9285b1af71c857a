"""`fpx --help`, `--version`, and every command's help."""

from __future__ import annotations

import pytest
import typer.main

from cli.errors import ExitCode
from cli.main import app


def root():
    return typer.main.get_command(app)


def command_paths(group=None, path=()) -> list[tuple[str, ...]]:
    """Every command and sub-command, loaded (the root lists them without importing them)."""
    group = group or root()
    paths = []
    for name in group.list_commands(None):
        command = group.load(name) if path == () else group.commands[name]
        paths.append((*path, name))
        if getattr(command, "commands", None):
            paths.extend(command_paths(command, (*path, name)))
    return paths


def test_version(fpx):
    from importlib.metadata import version

    assert fpx.ok("--version").stdout == f"fpx {version('fpx')}\n"


def test_help_documents_the_exit_codes(fpx):
    out = fpx.ok("--help").stdout
    for code in ExitCode:
        assert f"\n {code.value}  " in out, out
    for command in ("serve", "status", "stop", "logs", "predict", "models", "users", "items",
                    "task", "health", "check"):
        assert f"│ {command} " in out


def test_the_root_lists_each_command_by_its_own_one_line_help():
    listed = root()
    for name in listed.list_commands(None):
        short = listed.commands[name].help
        assert root().load(name).help.split("\n\n")[0] == short, name


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help(fpx, path):
    out = fpx.ok(*path, "--help").stdout
    assert f"Usage: fpx {' '.join(path)}" in out


@pytest.mark.parametrize("path", [("predict",), ("items", "list"), ("task", "submit"),
                                  ("task", "wait"), ("serve",), ("check",), ("logs",)])
def test_help_has_examples(fpx, path):
    assert "Example" in fpx.ok(*path, "--help").stdout


@pytest.mark.parametrize("path", [("predict",), ("task", "get"), ("users", "me"), ("check",)])
def test_global_options_are_in_each_commands_help(fpx, path):
    out = fpx.ok(*path, "--help").stdout
    for option in ("--url", "--json", "--request-timeout", "--token"):
        assert option in out


@pytest.mark.parametrize("path", [p for p in command_paths() if p[0] not in ("users", "items",
                                  "task") or len(p) == 2], ids=" ".join)
def test_every_command_has_an_example(fpx, path):
    assert "Example" in fpx.ok(*path, "--help").stdout


def description(fpx, path, columns: int) -> list[str]:
    out = fpx.ok(*path, "--help", env={"COLUMNS": str(columns)}).stdout
    return [line.strip() for line in out.split("╭")[0].splitlines() if line.strip()]


@pytest.mark.parametrize("path", [(), *command_paths()], ids=lambda p: " ".join(p) or "fpx")
def test_no_help_text_wraps_at_80_columns(fpx, path):
    # Typer keeps a docstring's line breaks: a line too long for 80 columns would wrap into a
    # stray one-word line.
    assert description(fpx, path, 80) == description(fpx, path, 200)


def test_the_exit_codes_say_which_commands_exit_3_when_none_runs(fpx):
    assert "fpx status / stop / logs: no detached server (or log)" in fpx.ok("--help").stdout


def test_the_root_help_names_the_global_options_in_a_line(fpx):
    out = fpx.ok("--help").stdout
    text = out.split("╭")[0]  # the root's own text, above its panels
    for option in ("--url URL", "--json", "--request-timeout SECONDS", "--token TOKEN"):
        assert option in text
    assert "Global options (before or after the command)" not in out  # no panel of them
    assert "Global options (before or after the command)" in fpx.ok("predict", "--help").stdout


@pytest.mark.parametrize("path", [(), *command_paths()], ids=lambda p: " ".join(p) or "fpx")
def test_no_flag_of_fpx_shows_a_value_in_help(fpx, path):
    # Typer shows <bool> beside every flag, as if it took a value; fpx's own flags set
    # metavar="". Typer's own --help (and completion options) may keep theirs.
    out = fpx.ok(*path, "--help", env={"COLUMNS": "120"}).stdout
    shown = [line for line in out.splitlines() if "<bool>" in line]
    assert all("--help" in line or "completion" in line for line in shown), shown
