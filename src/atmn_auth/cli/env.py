"""`atmn env`: the click layer over `atmn_auth.flows.env.run_env`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from atmn_auth.cli.options import (
    env_file_option,
    env_options,
    resolve_options,
    server_timeout_option,
)
from atmn_auth.flows.env import EnvReport, check_env, run_env


@click.command(name="env")
@env_options
@click.option("--offline", is_flag=True, help="Do not ask the server; only check the format.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as one JSON object.")
@env_file_option("Read this file instead of the nearest .env.")
@server_timeout_option()
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
) -> None:
    """Show which key is in force, where it comes from, and whether Autumn accepts it.

    The process environment wins, then the nearest .env (this directory's, else the
    first one found going up). Exits 0 when the key is usable, 1 when not.
    """
    settings, _ = resolve_options(ctx, sub_prod, sub_local, sub_headless)
    cwd, environ = Path.cwd(), os.environ
    if offline:
        ctx.exit(
            run_env(
                settings,
                cwd=cwd,
                environ=environ,
                out=click.echo,
                as_json=as_json,
                env_file=env_file,
            )
        )

    from atmn_auth.api.session import Session
    from atmn_auth.flows.console import terminal_console

    console = terminal_console()
    with Session(environ, timeout=timeout) as session:

        def offer_sign_in(report: EnvReport) -> EnvReport | None:
            """On a terminal: a rejected or missing key can be replaced right away."""
            from atmn_auth.flows.recovery import recover_interactively

            prompter = console.asks
            what = "was rejected" if report.server == "rejected" else "is not set"
            if prompter is None or not prompter.confirm(
                f"{settings.key_var} {what}. Sign in again now?", True
            ):
                return None
            if recover_interactively(settings, cwd, environ, console, session) is None:
                return None
            return check_env(settings, cwd=cwd, environ=environ, session=session, env_file=env_file)

        code = run_env(
            settings,
            cwd=cwd,
            environ=environ,
            out=click.echo,
            session=session,
            as_json=as_json,
            env_file=env_file,
            reauthenticate=None if as_json or not console.interactive else offer_sign_in,
        )
    ctx.exit(code)
