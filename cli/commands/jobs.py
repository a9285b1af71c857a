"""`fpx jobs`: the jobs a task can run, with their parameters."""

from __future__ import annotations

import typer

from cli.session import Session, session_command

app = typer.Typer()


@app.command("jobs")
@session_command()
def list_jobs(s: Session) -> None:
    """List the jobs a task can run (GET /jobs).

    Each with how it runs (async, thread or process) and its parameters: name,
    type, default. Submit one with `fpx task submit JOB key=value key:=json`.

    Example:
      fpx jobs --json | jq -r '.[].name'
    """
    s.out.show(s.api.jobs(), "jobs")
