"""One module per command group; each command is a thin wrapper over the client and render."""

# Click reads any argument starting with "-" as an option, so `fpx predict -2.5` would be
# "no such option: -2". With unknown options left as arguments, "-2.5" reaches X as a number;
# a misspelt option still fails, as an unexpected extra argument (exit 2).
NUMBER_ARGUMENTS = {"ignore_unknown_options": True}
