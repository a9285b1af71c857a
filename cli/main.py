"""Placeholder entry point until the CLI lands (issue 3)."""

import sys

from server import __version__


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"fpx {__version__}")
        return
    print("usage: fpx --version", file=sys.stderr)
    raise SystemExit(2)
