"""`atmn login`: the click layer over `atmn_auth.flows.login.run_login`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from atmn_auth.cli.options import cli_output, env_file_option, env_options, resolve_options


@click.command(name="login")
@env_options
@click.option("--org", metavar="ID_OR_SLUG", help="The organization to mint keys for.")
@env_file_option("Write to this file instead of the nearest .env.")
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL instead of opening it.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="Seconds to wait for the browser.",
)
@click.option("--force", is_flag=True, help="Sign in even when the current key still works.")
@click.option(
    "--revoke-replaced/--keep-replaced",
    default=None,
    help="Revoke the keys the new ones replace in the file (default: ask on a terminal, "
    "else keep them).",
)
@click.option("--debug", is_flag=True, help="Print each step (secrets redacted) to stderr.")
@click.pass_context
def login(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    org: str | None,
    env_file: Path | None,
    no_browser: bool,
    timeout: float,
    force: bool,
    revoke_replaced: bool | None,
    debug: bool,
) -> None:
    """Sign in through the browser and write fresh keys to the nearest .env."""
    settings, opts = resolve_options(ctx, sub_prod, sub_local, sub_headless)

    from atmn_auth.api.session import Session
    from atmn_auth.errors import AlreadySignedIn
    from atmn_auth.flows.console import terminal_console
    from atmn_auth.flows.login import LoginOptions, run_login
    from atmn_auth.flows.report import print_login_result

    def trace(line: str) -> None:
        click.echo(f"debug: {line}", err=True)

    console = terminal_console(debug=trace if debug else None)
    options = LoginOptions(
        env_file=env_file,
        org=org,
        open_browser=not (no_browser or opts.headless),
        timeout=timeout,
        force=force,
        revoke_replaced=revoke_replaced,
    )
    cwd = Path.cwd()
    try:
        with Session(os.environ) as session:
            result = run_login(
                settings,
                cwd=cwd,
                environ=os.environ,
                options=options,
                console=console,
                session=session,
            )
    except AlreadySignedIn as done:
        click.echo(done.message)
        return
    print_login_result(result, settings, cwd=cwd, environ=os.environ, output=cli_output())
