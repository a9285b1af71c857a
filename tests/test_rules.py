"""The project's own rule (README, Contributing): no private name of a dependency is imported
or reached through a dependency's module, in fpx's code, its benchmarks or its tests.

The one exception is the exception classes of the click that Typer vendors
(`typer._click.exceptions`), which Typer offers nowhere else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCIES = {
    "typer", "click", "fastapi", "starlette", "uvicorn", "httpx", "httpcore", "rich",
    "pydantic", "pydantic_core", "pydantic_settings", "anyio", "schemathesis", "pytest",
    "hypothesis", "asyncpg", "psycopg", "psycopg_pool",
}
ALLOWED = {"typer._click.exceptions"}


def _private(dotted: str) -> bool:
    return dotted.split(".")[0] in DEPENDENCIES and any(
        part.startswith("_") and not part.startswith("__") for part in dotted.split(".")
    )


def private_uses(source: str) -> list[str]:
    """`module.path` of each private name of a dependency `source` imports or reaches."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> the dependency module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _private(alias.name) and alias.name not in ALLOWED:
                    found.append(alias.name)
                aliases[(alias.asname or alias.name).split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if (_private(node.module) and node.module not in ALLOWED) or (
                    _private(dotted) and node.module not in ALLOWED
                ):
                    found.append(dotted)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = []
            value: ast.expr = node
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                dotted = ".".join([aliases[value.id], *reversed(chain)])
                if _private(dotted) and not any(dotted.startswith(a) for a in ALLOWED):
                    found.append(dotted)
    return sorted(set(found))


@pytest.mark.parametrize("source", [
    "from typer._coercion import RuntimeParam",
    "import typer._coercion",
    "from typer import _completion_shared",
    "import typer\nx = typer._click.core.Context",
    "import fastapi.routing as r\nr._IncludedRouter",
])
def test_the_check_finds_private_names(source):
    assert private_uses(source)


@pytest.mark.parametrize("source", [
    "from typer._click.exceptions import UsageError",
    "import typer\ntyper.Option",
    "import os\nos._exit(3)",
    "from fastapi.routing import iter_route_contexts",
])
def test_the_check_allows_public_names_and_the_exception(source):
    assert private_uses(source) == []


def test_no_private_name_of_a_dependency_is_used():
    offenders = {
        str(path.relative_to(ROOT)): uses
        for folder in ("cli", "server", "bench", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (uses := private_uses(path.read_text()))
    }
    assert offenders == {}
