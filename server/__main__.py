"""`python -m server`: serve the app on FPX_HOST:FPX_PORT."""

from __future__ import annotations

import sys

from server.logs import serve_log_config
from server.settings import Settings


def main() -> int:
    import uvicorn
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        sys.stderr.write(f"fpx: bad settings:\n{exc}\n")
        return 2
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if not settings.reload else None,
        reload=settings.reload,
        log_config=serve_log_config(settings.log_level),
        access_log=settings.log_level == "debug",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
