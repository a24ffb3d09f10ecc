"""`atmn logout`: the click layer over `atmn_auth.logout.run_logout`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from atmn_auth.commands._common import env_options, resolve_options
from atmn_auth.logout import DEFAULT_TIMEOUT, run_logout


@click.command(name="logout")
@env_options
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Remove the keys from this file instead of the nearest .env.",
)
@click.option("--keep-keys", is_flag=True, help="Remove the keys but do not revoke them.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the server for each key.",
)
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
    settings, _ = resolve_options(ctx, sub_prod, sub_local, sub_headless)
    code = run_logout(
        settings,
        cwd=Path.cwd(),
        environ=os.environ,
        out=click.echo,
        env_file=env_file,
        keep_keys=keep_keys,
        timeout=timeout,
    )
    ctx.exit(code)
