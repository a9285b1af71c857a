"""The API token fpx sends: checked before anything is done with it, and never shown.

Its own module so that `fpx serve` checks `--token` without importing the HTTP client before
its server is spawned.
"""

from __future__ import annotations

from cli.errors import UsageError


def check_token(token: str, source: str) -> str:
    """The token, if it can go in an Authorization header: visible ASCII, no spaces or control
    characters. Otherwise UsageError, which never shows the token."""
    if not token.isascii() or not token.isprintable() or " " in token:
        raise UsageError(
            f"{source} is not a usable API token: only visible ASCII characters, without"
            " spaces or control characters (the token is not shown)"
        )
    return token
