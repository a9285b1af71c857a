"""fpx command line: launch, call and check the fpx server."""
