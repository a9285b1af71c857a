"""Dependencies, named once as Annotated aliases; state lives on the app, set by the lifespan.

Each is `async def` although none awaits: FastAPI runs a plain `def` dependency in the
threadpool, a thread hop per request for what is an attribute lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.jobs import JobRegistry
from server.registry import ModelRegistry
from server.schemas import UserPublic
from server.settings import Settings
from server.store import Store
from server.tasks import TaskRunner


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


async def get_jobs(request: Request) -> JobRegistry:
    return request.app.state.jobs


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_runner(request: Request) -> TaskRunner:
    return request.app.state.runner


async def get_current_user(settings: Annotated[Settings, Depends(get_settings)]) -> UserPublic:
    """Who is asking: the configured default user until authentication exists."""
    return UserPublic(username=settings.default_user)


ModelsDep = Annotated[ModelRegistry, Depends(get_registry)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]
StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[TaskRunner, Depends(get_runner)]
CurrentUser = Annotated[UserPublic, Depends(get_current_user)]
