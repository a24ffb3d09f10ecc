"""`atmn logout`: the click layer over `atmn_auth.commands.logout.run_logout`."""

from __future__ import annotations

from pathlib import Path

import click

from atmn_auth.cli.options import (
    env_file_option,
    env_options,
    invocation,
    server_timeout_option,
)
from atmn_auth.commands.logout import run_logout


@click.command(name="logout")
@env_options
@env_file_option("Remove the keys from this file instead of the nearest .env.")
@click.option("--keep-keys", is_flag=True, help="Remove the keys but do not revoke them.")
@server_timeout_option("Seconds to wait for the server for each key.")
@click.pass_context
def logout(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    env_file: Path | None,
    keep_keys: bool,
    timeout: float,
) -> None:
    """Remove AUTUMN_SECRET_KEY and AUTUMN_PROD_SECRET_KEY from the nearest .env and
    revoke them on the server."""
    inv, _ = invocation(ctx, sub_prod, sub_local, sub_headless, timeout=timeout)
    with inv:
        code = run_logout(inv, env_file=env_file, keep_keys=keep_keys)
    ctx.exit(code)
