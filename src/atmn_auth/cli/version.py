"""`atmn version`: what `atmn --version` prints."""

from __future__ import annotations

import click

from atmn_auth._version import __version__


@click.command(name="version")
def version() -> None:
    """Print the version of atmn, as `atmn --version` does."""
    click.echo(f"atmn, version {__version__}")
