"""The application factory: everything is built from one Settings object, nothing at import."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from server import __version__
from server.errors import install_error_handling
from server.jobs import JobRegistry
from server.lifespan import Phase, lifespan
from server.middleware import RequestMiddleware
from server.registry import BUILTIN_MODEL
from server.routers import health, items, jobs, predict, tasks, users
from server.schemas import STORE_UNAVAILABLE, task_create_forms
from server.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the fpx app; its jobs are the built-in ones and those of `settings.jobs`."""
    settings = settings or Settings()
    # FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN: without internet they are
    # blank pages. fastapi-offline serves the same pages with those assets from its package.
    app = FastAPIOffline(
        title="fpx",
        version=__version__,
        summary="Lifespan model registry, routers, errors and persistent background tasks.",
        lifespan=lifespan,
        # The other spelling of a path (with or without a trailing slash) is redirected by
        # server/errors.py without trusting the Host header, as Starlette's redirect did.
        redirect_slashes=False,
    )
    app.state.settings = settings
    # Built here, not in the lifespan: the OpenAPI document shows each job's args.
    app.state.jobs = JobRegistry.with_builtins(settings.jobs)
    app.state.phase = Phase.STARTING
    # Access control costs nothing when it is off: the dependency is only added when on.
    app.state.token = None
    dependencies: list = []
    responses: dict = {}
    if settings.api_token is not None:
        from server.auth import UNAUTHORIZED, bearer  # fastapi.security: ~3 ms

        # Checked by each route (server/routing.py); the dependency documents the scheme.
        app.state.token = settings.api_token.get_secret_value().encode()
        dependencies, responses = [Depends(bearer)], UNAUTHORIZED
    # Routes are matched in the order they are included, and in FastAPI 0.165 each included
    # router costs a few microseconds to pass over: the hottest come first, /predict, then
    # POST /tasks (matching it took 31 us behind the other routers, 11 us here).
    needs_store = {**responses, **STORE_UNAVAILABLE}
    app.include_router(predict.router, dependencies=dependencies, responses=responses)
    app.include_router(tasks.router, dependencies=dependencies, responses=needs_store)
    app.include_router(health.router)
    app.include_router(jobs.router, dependencies=dependencies, responses=responses)
    for module in (users, items):
        app.include_router(module.router, dependencies=dependencies, responses=needs_store)
    observe = None
    if settings.metrics:
        from server.metrics import Metrics
        from server.routers import metrics

        app.state.metrics = Metrics()
        app.include_router(metrics.router, dependencies=dependencies, responses=needs_store)
        observe = app.state.metrics.observe_request
    install_error_handling(app)
    # Request id, path guard, clean 500, metrics and access line, in one layer around the app.
    app.add_middleware(RequestMiddleware, observe=observe)
    _document_jobs(app, settings)
    return app


def _document_jobs(app: FastAPI, settings: Settings) -> None:
    """Put what comes from settings into the OpenAPI document, which FastAPI builds from the
    static models: a POST /tasks body is one of the forms of this server's jobs, each with its
    args (server.schemas.task_create_forms), wait_time at most its max_wait."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            models = [BUILTIN_MODEL, *(spec.name for spec in settings.models)]
            schema["components"]["schemas"].update(
                task_create_forms(app.state.jobs, settings.max_wait, models)
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
