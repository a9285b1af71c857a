"""`fpx health`: is the server alive, and ready?"""

from __future__ import annotations

import typer

from cli.errors import CliError
from cli.session import Session, session_command

app = typer.Typer()


class NotReady(CliError):
    pass


@app.command()
@session_command()
def health(s: Session) -> None:
    """Is the server alive and ready?

    Asks GET /livez and /readyz.

    Exits 0 when it is ready, 1 when it answers but is starting or stopping,
    3 when nothing answers.

    Examples:
      fpx health
      fpx health --url http://127.0.0.1:8000 && echo ready
    """
    alive = s.api.livez()
    ready = s.api.readyz()
    s.out.show({"livez": alive, "readyz": ready.data}, "health")
    if ready.status != 200:
        state = ready.data.get("status") if isinstance(ready.data, dict) else ready.status
        raise NotReady(f"{s.api.url} is not ready: {state}")
