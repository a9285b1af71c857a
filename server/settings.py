"""Every server setting in one object, read from FPX_* environment variables."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.dburl import DatabaseUrl, is_postgres_url, url_problem

LogLevel = Literal["debug", "info", "warning", "error"]


def default_db_path() -> Path:
    """The database file in the user's data directory (XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fpx" / "fpx.db"


def _entry(kind: str, text: str) -> tuple[str, str]:
    """`name=module:attr` split into its name and target; ValueError naming the entry."""
    name, sep, target = text.partition("=")
    name, target = name.strip(), target.strip()
    module, colon, attr = target.partition(":")
    if not sep or not name or not colon or not module or not attr:
        raise ValueError(f"{kind} {text!r} is not of the form name=module:attr")
    return name, target


class ModelSpec(BaseModel):
    """One configured model: `name=module:attr`, where module:attr is its loader."""

    name: str
    loader: str

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        name, loader = _entry("model", text)
        return cls(name=name, loader=loader)

    def __str__(self) -> str:
        return f"{self.name}={self.loader}"


class JobEntry(BaseModel):
    """One configured job: `name=module:attr`, where module:attr is the job's function."""

    name: str
    target: str


def _job_entry(text: str) -> JobEntry:
    name, target = _entry("job", text)
    return JobEntry(name=name, target=target)


def resolve(target: str) -> Any:
    """The object `module:attr` names (attr may be dotted), importing its module."""
    module_name, _, attr_path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        obj = getattr(obj, attr)
    return obj


def _entries(parse: Callable[[str], BaseModel], value: object) -> object:
    if isinstance(value, str):
        return [parse(part) for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [parse(v) if isinstance(v, str) else v for v in value]
    return value


class Settings(BaseSettings):
    """fpx server settings; each field is read from FPX_<NAME>."""

    # hide_input_in_errors: a refused FPX_DB must not echo the password in it.
    model_config = SettingsConfigDict(
        env_prefix="FPX_", extra="ignore", validate_assignment=True,
        arbitrary_types_allowed=True, hide_input_in_errors=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="worker processes of `python -m server`")
    reload: bool = Field(False, description="restart `python -m server` when code changes")
    # An SQLite file, or a PostgreSQL URL (postgresql://user:password@host:5432/dbname), which
    # prints with its password masked (docs/postgres.md).
    db: Path | DatabaseUrl = Field(default_factory=default_db_path)
    # PostgreSQL: connections each worker process keeps to the database.
    db_pool_size: int = Field(10, ge=1)
    # Not default_factory=list: pydantic reads the factory's signature, and a builtin's is
    # parsed with the tokenize module's regex, which costs start-up ~18 ms to compile.
    models: Annotated[list[ModelSpec], NoDecode] = Field(default_factory=lambda: [])
    max_wait: int = Field(3600, ge=0)
    max_running: int = Field(100, ge=1)
    max_queued: int = Field(10000, ge=1)
    shutdown_timeout: float = Field(5.0, ge=0)
    default_user: str = "fakecurrentuser"
    log_level: LogLevel = "info"
    # /metrics in Prometheus' text format, and the per-request counting behind it.
    metrics: bool = True
    # text: lines for people; json: one JSON object per line, for log shippers.
    log_format: Literal["text", "json"] = "text"
    # When set, every API operation but /livez and /readyz needs `Authorization: Bearer <it>`.
    api_token: SecretStr | None = None
    max_body_size: int = Field(64 * 1024, ge=0, description="largest request body, in bytes")
    # How often a worker renews its lease and looks for cancels and pending work, and how long
    # a lease lasts without renewal before the worker is taken for dead.
    heartbeat_interval: float = Field(0.5, gt=0)
    lease_timeout: float = Field(5.0, gt=0)
    # How long a request waits for a database another process holds locked.
    db_busy_timeout: float = Field(10.0, ge=0)
    # Jobs added to the built-in ones, `name=module:attr,...` (docs/jobs.md).
    jobs: Annotated[list[JobEntry], NoDecode] = Field(default_factory=lambda: [])
    job_processes: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1,
        description="worker processes for plain `def` jobs, per server worker",
    )
    job_time_limit: float | None = Field(
        None, gt=0, description="seconds a task may run unless it sets its own time_limit",
    )
    cancel_grace: float = Field(
        2.0, ge=0, description="seconds a cancelled process job has before it is terminated",
    )
    # Per worker process: with this many connections open (idle ones count) or requests in
    # flight, uvicorn answers a new request 503 at once (docs/reliability.md).
    max_connections: int = Field(1000, ge=1)
    # Seconds an idle keep-alive connection is kept open after its last response.
    keep_alive_timeout: int = Field(5, ge=1)
    # How long a finished task is kept before it is pruned; 0 keeps them for good. Seconds,
    # or a duration: 7d, 12:00:00, P1DT12H (docs/settings.md).
    task_retention: timedelta = Field(timedelta(days=7), ge=timedelta(0))

    @field_validator("db", mode="before")
    @classmethod
    def _url_or_path(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not is_postgres_url(value.strip()):
            return Path(value)
        if problem := url_problem(value.strip()):
            raise ValueError(f"not a valid PostgreSQL URL: {problem}")
        return DatabaseUrl(value.strip())

    @field_validator("models", mode="before")
    @classmethod
    def _parse_models(cls, value: object) -> object:
        return _entries(ModelSpec.parse, value)

    @field_validator("jobs", mode="before")
    @classmethod
    def _parse_jobs(cls, value: object) -> object:
        return _entries(_job_entry, value)

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("task_retention", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        # pydantic reads a number as seconds, but a string only as a duration ("7d", "P7D"):
        # FPX_TASK_RETENTION=0 or =3600 comes as a string.
        if isinstance(value, str):
            value = value.strip()
            with contextlib.suppress(ValueError):
                return float(value)
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lowered(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value
