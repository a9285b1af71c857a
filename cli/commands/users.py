"""`fpx users list | me | get NAME`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.session import Session, add_group_options, session_command

app = typer.Typer(
    no_args_is_help=True,
    help="Users: list, me, get NAME.",
)
add_group_options(app)


@app.command("list")
@session_command()
def list_users(s: Session) -> None:
    """List every user (GET /users).

    Example:
      fpx users list --json | jq -r '.[].username'
    """
    s.out.show(s.api.users(), "users")


@app.command("me")
@session_command()
def me(s: Session) -> None:
    """Show the current user (GET /users/me).

    Example:
      fpx users me
    """
    s.out.show(s.api.me(), "user")


@app.command("get")
@session_command()
def get_user(
    s: Session,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A username, e.g. Rick.")],
) -> None:
    """Show one user by name (GET /users/NAME).

    Example:
      fpx users get Rick
    """
    s.out.show(s.api.user(name), "user")
