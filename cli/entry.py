"""The `fpx` console script: for `fpx serve`, start the server first (cli/prestart.py); then
run the Typer app (cli/main.py), whose import is most of fpx's own start-up."""

from __future__ import annotations

import sys


def main() -> None:
    from cli import prestart

    prestart.begin(sys.argv[1:])
    from cli.main import main as run

    run()
