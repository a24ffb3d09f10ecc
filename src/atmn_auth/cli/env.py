"""`atmn env`: the click layer over `atmn_auth.commands.env.run_env`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from atmn_auth.cli.options import (
    env_file_option,
    env_options,
    invocation,
    isatty,
    server_timeout_option,
)
from atmn_auth.commands.env import run_env
from atmn_auth.commands.export import FORMATS

if TYPE_CHECKING:
    from atmn_auth.commands.invocation import Invocation


@click.command(name="env")
@env_options
@click.option("--offline", is_flag=True, help="Do not ask the server; only check the format.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as one JSON object.")
@env_file_option("Read this file instead of the nearest .env.")
@server_timeout_option()
@click.option(
    "--export",
    is_flag=True,
    help="Print AUTUMN_SECRET_KEY and AUTUMN_PROD_SECRET_KEY with their whole keys, "
    "for other tools (never asks the server).",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(FORMATS),
    help="With --export: sh (the default, for eval), dotenv, json, or github (for "
    "$GITHUB_ENV; the mask lines go to stderr).",
)
@click.option("--reveal", is_flag=True, help="With --export: print the keys on a terminal too.")
@click.pass_context
def env(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    offline: bool,
    as_json: bool,
    env_file: Path | None,
    timeout: float,
    export: bool,
    export_format: str | None,
    reveal: bool,
) -> None:
    """Show which key is in force, where it comes from, and whether Autumn accepts it.

    The process environment wins, then the nearest .env (this directory's, else the
    first one found going up). Exits 0 when the key is usable, 1 when not.

    --export prints the variables `atmn run` sets instead: eval "$(atmn env --export)".
    With --env-file they come from that file alone. On a terminal it refuses without
    --reveal.
    """
    inv, _ = invocation(ctx, sub_prod, sub_local, sub_headless, offline=offline, timeout=timeout)
    if export or export_format is not None or reveal:
        ctx.exit(_export(ctx, inv, export, export_format, reveal, as_json, env_file))
    with inv:
        code = run_env(inv, as_json=as_json, env_file=env_file)
    ctx.exit(code)


def _export(
    ctx: click.Context,
    inv: Invocation,
    export: bool,
    export_format: str | None,
    reveal: bool,
    as_json: bool,
    env_file: Path | None,
) -> int:
    """`atmn env --export`: checks the flags, then `atmn_auth.commands.export.run_export`."""
    from atmn_auth.errors import UsageError

    if not export:
        given = "--format" if export_format is not None else "--reveal"
        raise click.UsageError(f"{given} goes with --export: atmn env --export {given}", ctx=ctx)
    if as_json:
        raise click.UsageError(
            "--json and --export do not combine; for JSON: atmn env --export --format json",
            ctx=ctx,
        )
    if not reveal and isatty(sys.stdout):
        raise UsageError(
            "--export prints whole keys and standard output is a terminal; redirect or "
            'capture it (eval "$(atmn env --export)"), or add --reveal to show them here'
        )
    if not reveal and export_format == "github" and isatty(sys.stderr):
        # the `::add-mask::` lines carry the whole keys, on standard error
        raise UsageError(
            "--format github prints `::add-mask::` lines with the whole keys on standard "
            "error, which is a terminal; in a workflow it is not (redirect it: 2>/dev/null), "
            "or add --reveal to show them here"
        )
    from atmn_auth.commands.export import run_export

    return run_export(inv, fmt=export_format or FORMATS[0], env_file=env_file)
