"""Every server setting in one object, read from FPX_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]


def default_db_path() -> Path:
    """The database file in the user's data directory (XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fpx" / "fpx.db"


class ModelSpec(BaseModel):
    """One configured model: `name=module:attr`, where module:attr is its loader."""

    name: str
    loader: str

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        name, sep, loader = text.partition("=")
        name, loader = name.strip(), loader.strip()
        module, colon, attr = loader.partition(":")
        if not sep or not name or not colon or not module or not attr:
            raise ValueError(f"model {text!r} is not of the form name=module:attr")
        return cls(name=name, loader=loader)

    def __str__(self) -> str:
        return f"{self.name}={self.loader}"


class Settings(BaseSettings):
    """fpx server settings; each field is read from FPX_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="FPX_", extra="ignore", validate_assignment=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, description="worker processes of `python -m server`")
    reload: bool = Field(False, description="restart `python -m server` when code changes")
    db: Path = Field(default_factory=default_db_path)
    # Not default_factory=list: pydantic reads the factory's signature, and a builtin's is
    # parsed with the tokenize module's regex, which costs start-up ~18 ms to compile.
    models: Annotated[list[ModelSpec], NoDecode] = Field(default_factory=lambda: [])
    max_wait: int = Field(3600, ge=0)
    max_running: int = Field(100, ge=1)
    max_queued: int = Field(10000, ge=1)
    shutdown_timeout: float = Field(5.0, ge=0)
    default_user: str = "fakecurrentuser"
    log_level: LogLevel = "info"
    # When set, every API operation but /livez and /readyz needs `Authorization: Bearer <it>`.
    api_token: SecretStr | None = None
    max_body_size: int = Field(64 * 1024, ge=0, description="largest request body, in bytes")
    # How often a worker renews its lease and looks for cancels and pending work, and how long
    # a lease lasts without renewal before the worker is taken for dead.
    heartbeat_interval: float = Field(0.5, gt=0)
    lease_timeout: float = Field(5.0, gt=0)
    # How long a request waits for a database another process holds locked.
    db_busy_timeout: float = Field(10.0, ge=0)
    # Per worker process: with this many connections open (idle ones count) or requests in
    # flight, uvicorn answers a new request 503 at once (docs/reliability.md).
    max_connections: int = Field(1000, ge=1)
    # Seconds an idle keep-alive connection is kept open after its last response.
    keep_alive_timeout: int = Field(5, ge=1)

    @field_validator("models", mode="before")
    @classmethod
    def _parse_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [ModelSpec.parse(part) for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [ModelSpec.parse(v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value
