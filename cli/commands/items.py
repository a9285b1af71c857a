"""`fpx items list | get ID | add NAME | delete ID`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.commands import NUMBER_ARGUMENTS
from cli.session import Session, add_group_options, session_command

app = typer.Typer(
    no_args_is_help=True,
    help="Items: list, get, add, delete.",
)
add_group_options(app)

ItemId = Annotated[int, typer.Argument(
    metavar="ID", min=1, max=2**63 - 1, help="The item's id (an integer from 1).",
    show_default=False,
)]


@app.command("list")
@session_command()
def list_items(
    s: Session,
    limit: Annotated[int | None, typer.Option(
        min=1, max=1000, help="At most this many (1-1000).", show_default="100",
    )] = None,
    offset: Annotated[int | None, typer.Option(
        min=0, help="Skip this many first.", show_default="0",
    )] = None,
) -> None:
    """List items by id, a page at a time (GET /items).

    Example:
      fpx items list --limit 10 --offset 20
    """
    s.out.show(s.api.items(limit, offset), "items")


@app.command("get", context_settings=NUMBER_ARGUMENTS)
@session_command()
def get_item(s: Session, item_id: ItemId) -> None:
    """Show one item (GET /items/ID).

    Example:
      fpx items get 1
    """
    s.out.show(s.api.item(item_id), "item")


@app.command("add")
@session_command()
def add_item(
    s: Session,
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="The item's name (1-200 characters).",
    )],
    description: Annotated[str | None, typer.Option(
        "--description", "-d", help="An optional description (up to 2000 characters).",
    )] = None,
) -> None:
    """Add an item; prints it with its new id (POST /items).

    Example:
      fpx items add "portal gun" --description green
    """
    s.out.show(s.api.add_item(name, description), "item")


@app.command("delete", context_settings=NUMBER_ARGUMENTS)
@session_command()
def delete_item(s: Session, item_id: ItemId) -> None:
    """Delete one item (DELETE /items/ID).

    Example:
      fpx items delete 1
    """
    s.api.delete_item(item_id)
    s.out.show({"id": item_id, "deleted": True}, "item_deleted")
