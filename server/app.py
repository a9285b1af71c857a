"""The application factory: everything is built from one Settings object, nothing at import."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from server import __version__
from server.errors import install_error_handling
from server.lifespan import Phase, lifespan
from server.routers import health, items, predict, tasks, users
from server.schemas import STORE_UNAVAILABLE
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
        # The other spelling of a path (with or without a trailing slash) is redirected by
        # server/errors.py without trusting the Host header, as Starlette's redirect did.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.job = job or sleep_job
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
    # Routes are matched in the order they are included: the hottest, /predict, comes first.
    app.include_router(predict.router, dependencies=dependencies, responses=responses)
    app.include_router(health.router)
    for module in (users, items, tasks):
        app.include_router(
            module.router, dependencies=dependencies,
            responses={**responses, **STORE_UNAVAILABLE},
        )
    install_error_handling(app)
    _document_limits(app, settings)
    return app


def _document_limits(app: FastAPI, settings: Settings) -> None:
    """Put the limits that come from settings into the OpenAPI document, which FastAPI builds
    from the static models: wait_time's maximum is this server's max_wait."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            wait_time = schema["components"]["schemas"]["TaskCreate"]["properties"]["wait_time"]
            wait_time["maximum"] = settings.max_wait
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
