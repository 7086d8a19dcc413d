"""The `zkfl` command line: a thin Typer shell over the library (installed as `zkfl.cli`)."""
