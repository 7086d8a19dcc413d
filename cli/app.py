"""`zkfl` entry point. The pipeline commands arrive with the CLI issue; this keeps the console
script installable and honest about what exists."""

from __future__ import annotations

import typer

from zkfl import __version__

app = typer.Typer(help="zkFL: verifiable federated learning with ezkl proofs.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print zkFL's version and the pinned ezkl version."""
    from zkfl.prover import EZKL_VERSION

    typer.echo(f"zkfl {__version__} (ezkl {EZKL_VERSION})")


def main() -> None:
    app()
