"""`atmn env`: the click layer over `atmn_auth.env_check.run_env`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from atmn_auth.commands._common import (
    env_file_option,
    env_options,
    resolve_options,
    server_timeout_option,
)
from atmn_auth.env_check import EnvReport, check_env, run_env


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
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    recovery = None
    if interactive and not (offline or as_json):

        def recovery(report: EnvReport) -> EnvReport | None:
            return _offer_sign_in(report, env_file=env_file, timeout=timeout)

    code = run_env(
        settings,
        cwd=Path.cwd(),
        environ=os.environ,
        out=click.echo,
        offline=offline,
        as_json=as_json,
        env_file=env_file,
        timeout=timeout,
        reauthenticate=recovery,
    )
    ctx.exit(code)


def _offer_sign_in(report: EnvReport, *, env_file: Path | None, timeout: float) -> EnvReport | None:
    """On a terminal: a rejected or missing key can be replaced right away."""
    from atmn_auth.browser import open_in_browser
    from atmn_auth.login import Console
    from atmn_auth.prompts import QuestionaryPrompter
    from atmn_auth.reauth import recover_interactively

    settings = report.settings
    prompter = QuestionaryPrompter()
    what = "was rejected" if report.server == "rejected" else "is not set"
    if not prompter.confirm(f"{settings.key_var} {what}. Sign in again now?", True):
        return None
    console = Console(
        info=lambda line: click.echo(line, err=True),
        interactive=True,
        prompter=prompter,
        opener=open_in_browser,
        paste_stream=sys.stdin,
    )
    cwd = Path.cwd()
    if recover_interactively(settings, cwd, os.environ, console) is None:
        return None
    return check_env(settings, cwd=cwd, environ=os.environ, env_file=env_file, timeout=timeout)
