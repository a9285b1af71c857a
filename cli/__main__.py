"""`python -m cli`: the same as the `fpx` command."""

from cli.entry import main

main()
