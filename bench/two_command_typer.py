"""The baseline for `fpx --help`: a two-command Typer app, as Typer's docs write one.

    python bench/two_command_typer.py --help
"""

import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello to NAME."""
    typer.echo(f"Hello {name}")


@app.command()
def goodbye(name: str, formal: bool = False) -> None:
    """Say goodbye to NAME."""
    typer.echo(f"Goodbye Ms. {name}. Have a good day." if formal else f"Bye {name}!")


if __name__ == "__main__":
    app()
