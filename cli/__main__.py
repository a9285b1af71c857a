"""`python -m cli`: the same as the `fpx` command."""

from cli.main import main

main()
