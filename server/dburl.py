"""FPX_DB names a database: a PostgreSQL URL, or else the path of an SQLite file.

A URL carries its password, which must never be shown: `DatabaseUrl` prints with the password
masked, and gives the real one only to the driver (`.secret`). No imports beyond the standard
library: the CLI uses this module too, and starts fast.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
MASK = "***"


def is_postgres_url(value: str) -> bool:
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def url_problem(url: str) -> str | None:
    """Why a PostgreSQL URL cannot be parsed (never quoting its password), or None."""
    try:
        urlsplit(url).port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        return str(exc)
    return None


def redact(url: str) -> str:
    """The URL with its password replaced by *** (any text that fails to parse: all masked
    but its scheme)."""
    try:
        parts = urlsplit(url)
        password = parts.password
        hostinfo = parts.netloc.rpartition("@")
    except ValueError:
        return url.partition("://")[0] + "://" + MASK
    if password is None:
        # A password may also come as a query parameter (?password=...).
        if "password=" not in parts.query.lower():
            return url
        query = "&".join(
            f"{k}={MASK}" if k.lower() == "password" else f"{k}={v}" if sep else k
            for k, sep, v in (p.partition("=") for p in parts.query.split("&"))
        )
        return urlunsplit(parts._replace(query=query))
    user = hostinfo[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo[2]}"))


class DatabaseUrl:
    """A PostgreSQL URL whose str() and repr() hide its password."""

    __slots__ = ("secret",)

    def __init__(self, url: str) -> None:
        self.secret = url

    def __str__(self) -> str:
        return redact(self.secret)

    def __repr__(self) -> str:
        return f"DatabaseUrl({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseUrl) and other.secret == self.secret

    def __hash__(self) -> int:
        return hash(self.secret)
