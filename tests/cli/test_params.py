"""Values parsed without pydantic (cli/params.py): the same checks, plain messages."""

from __future__ import annotations

import enum
import uuid
from pathlib import Path

import pytest

from cli.params import plain_converter


class Info:
    def __init__(self, min=None, max=None, case_sensitive=True):
        self.min, self.max, self.case_sensitive = min, max, case_sensitive


class Colour(enum.StrEnum):
    red = "red"
    blue = "blue"


@pytest.mark.parametrize(("annotation", "info", "given", "parsed"), [
    (float, Info(), "-2.5", -2.5),
    (float, Info(), "1e3", 1000.0),
    (float, Info(), "inf", float("inf")),
    (int, Info(min=1, max=10), "10", 10),
    (str, Info(), "x", "x"),
    (bool, Info(), "Yes", True),
    (bool, Info(), "0", False),
    (bool, Info(), True, True),
    (uuid.UUID, Info(), "495f6ce5-4797-420d-8978-288f7b6459fb",
     uuid.UUID("495f6ce5-4797-420d-8978-288f7b6459fb")),
    (Colour, Info(), "red", Colour.red),
    (Colour, Info(case_sensitive=False), "BLUE", Colour.blue),
])
def test_parses(annotation, info, given, parsed):
    assert plain_converter(annotation, info)(given) == parsed


@pytest.mark.parametrize(("annotation", "info", "given", "message"), [
    (float, Info(), "abc", "'abc' is not a number"),
    (int, Info(), "1.5", "'1.5' is not an integer"),
    (int, Info(min=1), "0", "0 is less than the minimum, 1"),
    (int, Info(max=1000), "1001", "1001 is more than the maximum, 1000"),
    (float, Info(min=0), "-0.5", "-0.5 is less than the minimum, 0"),
    (bool, Info(), "maybe", "'maybe' is not a boolean (true/false, yes/no, 1/0)"),
    (uuid.UUID, Info(), "not-a-uuid", "'not-a-uuid' is not a UUID"),
    (Colour, Info(), "RED", "'RED' is not one of red, blue"),
])
def test_refuses(annotation, info, given, message):
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        plain_converter(annotation, info)(given)


def test_paths_and_repeated_values(tmp_path):
    import typer

    file_only = typer.Option(dir_okay=False)
    assert plain_converter(Path, file_only)(str(tmp_path / "x.db")) == tmp_path / "x.db"
    with pytest.raises(typer.BadParameter, match="is a directory"):  # typer's own check
        plain_converter(Path, file_only)(str(tmp_path))
    assert plain_converter(list[str], Info())(("a=m:f", "b=m:g")) == ["a=m:f", "b=m:g"]
    assert plain_converter(list[int], Info(min=1))(("1", "2")) == [1, 2]


def test_other_types_are_left_to_typer():
    import datetime

    assert plain_converter(datetime.datetime, Info()) is None
    assert plain_converter(tuple[str, int], Info()) is None
    assert plain_converter(list[datetime.date], Info()) is None
