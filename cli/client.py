"""The fpx API client: one method per endpoint, parsed JSON out, `ApiError` on an error status.

Built on the standard library's http.client rather than httpx: `import httpx` costs about 35 ms
and pulls in rich.progress and click through httpx's own CLI, and each httpx.Client builds an
SSL context (another 30 ms) even for plain http. A client command makes one or a few requests
over one kept-alive connection, which http.client does in about 1 ms. http.client (which
imports ssl) is itself imported on the first request, so `fpx --help` never pays for it.
No rendering here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from cli.errors import ApiError, CliError, Unreachable, UsageError
from cli.tokens import check_token

if TYPE_CHECKING:
    import http.client

TOKEN_HINT = "this server needs an API token: pass --token or set FPX_API_TOKEN"
REFUSED_TOKEN_HINT = "the server refused the API token: check --token or FPX_API_TOKEN"


class NotFpxServer(CliError):
    """Something answered, but not the way an fpx server does."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    data: Any
    headers: http.client.HTTPMessage


def check_url(url: str, source: str = "--url") -> str:
    """The URL without a trailing slash; UsageError unless it is http(s)://host[:port][/path]."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{source} {redact(url)!r} is not a URL like http://127.0.0.1:8000")
    if parts.query or parts.fragment:
        raise UsageError(f"{source} {redact(url)!r} must not have a query or fragment")
    return url.rstrip("/")


def redact(url: str) -> str:
    """The URL as messages show it: a password in it (http://user:pw@host) replaced by ***."""
    scheme, sep, rest = url.partition("://")
    netloc, path = re.match(r"([^/?#]*)(.*)", rest, re.DOTALL).groups()  # type: ignore[union-attr]
    userinfo, at, host = netloc.rpartition("@")  # as urlsplit reads it: the last @
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}{path}"


class ApiClient:
    """Talks to one fpx server. Raises Unreachable (nothing answers, or too slowly),
    ApiError (an error status) or NotFpxServer (an answer that is not fpx's JSON)."""

    def __init__(self, url: str, *, timeout: float, token: str | None = None) -> None:
        url = check_url(url)
        parts = urlsplit(url)
        # What messages show: the userinfo of the URL is never sent, and its password never shown.
        self.url = redact(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path
        self.timeout = timeout
        self._headers = {"Accept": "application/json", "User-Agent": "fpx-cli"}
        if token:
            self._headers["Authorization"] = f"Bearer {check_token(token, 'the API token')}"
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None,
        body: object = None, ok: tuple[int, ...] | None = (200,),
    ) -> Reply:
        """Send one request; an answer whose status is not in `ok` raises ApiError
        (with `ok=None`, every answer is returned)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        status, raw, reply_headers = self._send(method, target, payload, headers)
        data = self._decode(raw, reply_headers, status)
        if ok is not None and status not in ok:
            detail = data.get("detail", data) if isinstance(data, dict) else data
            reason = _reason(status)
            hint = "" if status != 401 else (
                REFUSED_TOKEN_HINT if "Authorization" in self._headers else TOKEN_HINT
            )
            raise ApiError(status, reason, detail, hint)
        return Reply(status, data, reply_headers)

    def _send(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, http.client.HTTPMessage]:
        import http.client

        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, target, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except TimeoutError:
                self.close()
                raise Unreachable(
                    f"{self.url} did not answer {method} {target} within {self.timeout:g} s"
                    " (--request-timeout)"
                ) from None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server has since closed: try once on a new one.
                self.close()
                if reused and attempt == 1:
                    continue
                raise Unreachable(f"{self.url} closed the connection without answering") from None
            except http.client.HTTPException as exc:
                self.close()
                raise NotFpxServer(
                    f"{self.url} does not speak HTTP like an fpx server ({type(exc).__name__})"
                ) from None
            except OSError as exc:
                self.close()
                raise Unreachable(
                    f"no fpx server at {self.url} - start one with `fpx serve`",
                    [f"({_os_reason(exc)})"],
                ) from None
            if response.will_close:
                self.close()
            return response.status, raw, response.headers
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> http.client.HTTPConnection:
        import http.client

        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _decode(self, raw: bytes, headers: http.client.HTTPMessage, status: int) -> Any:
        if not raw:
            return None
        if "json" not in (headers.get("Content-Type") or ""):
            raise NotFpxServer(
                f"{self.url} is not an fpx server: it answered {status} with"
                f" {headers.get('Content-Type') or 'no content type'}, not JSON"
            )
        try:
            return json.loads(raw)
        except ValueError:
            raise NotFpxServer(f"{self.url} is not an fpx server: its JSON is broken") from None

    # -- endpoints ---------------------------------------------------------------------------

    def livez(self) -> Any:
        return self.request("GET", "/livez").data

    def readyz(self) -> Reply:
        """200 when ready, 503 while starting or stopping: both are answers, not errors."""
        return self.request("GET", "/readyz", ok=(200, 503))

    def models(self) -> Any:
        return self.request("GET", "/models").data

    def predict(self, x: float, model: str | None = None) -> Any:
        return self.request("GET", "/predict", params={"x": repr(x), "model": model}).data

    def users(self) -> Any:
        return self.request("GET", "/users").data

    def me(self) -> Any:
        return self.request("GET", "/users/me").data

    def user(self, username: str) -> Any:
        return self.request("GET", f"/users/{quote(username, safe='')}").data

    def items(self, limit: int | None = None, offset: int | None = None) -> Any:
        return self.request("GET", "/items", params={"limit": limit, "offset": offset}).data

    def item(self, item_id: int) -> Any:
        return self.request("GET", f"/items/{item_id}").data

    def add_item(self, name: str, description: str | None = None) -> Any:
        body = {"name": name, "description": description}
        return self.request("POST", "/items", body=body, ok=(201,)).data

    def delete_item(self, item_id: int) -> None:
        self.request("DELETE", f"/items/{item_id}", ok=(204,))

    def jobs(self) -> Any:
        return self.request("GET", "/jobs").data

    def submit_task(
        self, job: str, args: dict[str, Any], *, task_id: str | None = None,
        time_limit: float | None = None,
    ) -> Any:
        body: dict[str, Any] = {"job": job, "args": args}
        if task_id is not None:
            body["id"] = task_id
        if time_limit is not None:
            body["time_limit"] = time_limit
        return self.request("POST", "/tasks", body=body, ok=(202,)).data

    def task(self, task_id: str) -> Any:
        return self.request("GET", f"/tasks/{quote(task_id, safe='')}").data

    def tasks(
        self, status: str | None = None, limit: int | None = None, job: str | None = None
    ) -> Any:
        params = {"status": status, "limit": limit, "job": job}
        return self.request("GET", "/tasks", params=params).data

    def task_counts(self) -> Any:
        return self.request("GET", "/tasks/counts").data

    def cancel_task(self, task_id: str) -> Any:
        return self.request("POST", f"/tasks/{quote(task_id, safe='')}/cancel").data

    def delete_task(self, task_id: str) -> None:
        self.request("DELETE", f"/tasks/{quote(task_id, safe='')}", ok=(204,))


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _os_reason(exc: OSError) -> str:
    import socket

    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    return exc.strerror or str(exc)
