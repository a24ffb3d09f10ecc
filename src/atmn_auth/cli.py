"""The `atmn` command: click parses flags, then hands plain values to plain functions.

Only click and the small modules it needs are imported here; each command imports
what it uses (authlib, httpx2, questionary) inside its own body.
"""

from __future__ import annotations

from typing import Any

import click

from atmn_auth import __version__
from atmn_auth.commands import env_cmd, login_cmd, logout_cmd
from atmn_auth.commands._common import GlobalOptions
from atmn_auth.errors import AtmnError


class _AtmnGroup(click.Group):
    """Turns `AtmnError` into one line on stderr and its exit code; Ctrl-C into exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AtmnError as exc:
            click.echo(f"atmn: error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\natmn: interrupted; nothing was changed.", err=True)
            ctx.exit(130)


@click.group(cls=_AtmnGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--prod", is_flag=True, help="Use the live key (AUTUMN_PROD_SECRET_KEY).")
@click.option("-l", "--local", is_flag=True, help="Use the local server (http://localhost:8080).")
@click.option(
    "--headless",
    is_flag=True,
    help="Do not open a browser: print the sign-in URL and wait for it to be used.",
)
@click.version_option(__version__, "-V", "--version", prog_name="atmn")
@click.pass_context
def cli(ctx: click.Context, prod: bool, local: bool, headless: bool) -> None:
    """Sign in to Autumn and keep working API keys in your project's .env."""
    ctx.obj = GlobalOptions(prod=prod, local=local, headless=headless)


cli.add_command(login_cmd.login)
cli.add_command(logout_cmd.logout)
cli.add_command(env_cmd.env)


def main() -> None:
    cli(prog_name="atmn")


if __name__ == "__main__":  # pragma: no cover
    main()
