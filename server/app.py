"""The application factory: everything is built from one Settings object, nothing at import."""

from __future__ import annotations

from fastapi import FastAPI

from server import __version__
from server.errors import install_error_handling
from server.lifespan import lifespan
from server.routers import health, items, predict, tasks, users
from server.settings import Settings
from server.tasks import Job, sleep_job


def create_app(settings: Settings | None = None, *, job: Job | None = None) -> FastAPI:
    """Build the fpx app. `job` replaces the demo sleep job (tests use it to make one fail)."""
    settings = settings or Settings()
    app = FastAPI(
        title="fpx",
        version=__version__,
        summary="Lifespan model registry, routers, errors and persistent background tasks.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.job = job or sleep_job
    app.state.phase = "starting"
    for module in (health, predict, users, items, tasks):
        app.include_router(module.router)
    install_error_handling(app)
    return app
