"""`fpx predict` and `fpx models`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.commands import NUMBER_ARGUMENTS
from cli.session import Session, finite_number, session_command

app = typer.Typer()


@app.command(context_settings=NUMBER_ARGUMENTS)
@session_command()
def predict(
    s: Session,
    x: Annotated[float, typer.Argument(
        metavar="X", help="The model's input, a finite number (negative ones too).",
        show_default=False, callback=finite_number,
    )],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", metavar="NAME", help="A loaded model (see `fpx models`).",
        show_default="the built-in answer_to_everything",
    )] = None,
) -> None:
    """Run a model on X (GET /predict).

    Examples:
      fpx predict 3.5
      fpx predict -2.5 --model answer_to_everything
      fpx predict 3.5 --json | jq .result
    """
    s.out.show(s.api.predict(x, model), "prediction")


@app.command("models")
@session_command()
def list_models(s: Session) -> None:
    """List the loaded models (GET /models).

    With when and how fast each loaded.

    Example:
      fpx models --json | jq -r '.[].name'
    """
    s.out.show(s.api.models(), "models")
