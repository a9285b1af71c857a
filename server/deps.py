"""Dependencies, named once as Annotated aliases; state lives on the app, set by the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.registry import ModelRegistry
from server.schemas import UserPublic
from server.settings import Settings
from server.store import Store
from server.tasks import TaskRunner


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_runner(request: Request) -> TaskRunner:
    return request.app.state.runner


def get_current_user(settings: Annotated[Settings, Depends(get_settings)]) -> UserPublic:
    """Who is asking: the configured default user until authentication exists."""
    return UserPublic(username=settings.default_user)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelsDep = Annotated[ModelRegistry, Depends(get_registry)]
StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[TaskRunner, Depends(get_runner)]
CurrentUser = Annotated[UserPublic, Depends(get_current_user)]
