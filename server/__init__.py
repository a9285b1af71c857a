"""fpx server: a FastAPI application built by `server.app.create_app(settings)`."""

__version__ = "0.1.0"
