"""`atmn env`."""

from __future__ import annotations

import click

from atmn_auth.commands._common import env_options, resolve_options
from atmn_auth.errors import AtmnError


@click.command(name="env")
@env_options
@click.pass_context
def env(ctx: click.Context, sub_prod: bool, sub_local: bool, sub_headless: bool) -> None:
    """(not built yet)"""
    resolve_options(ctx, sub_prod, sub_local, sub_headless)
    raise AtmnError("not built yet")
