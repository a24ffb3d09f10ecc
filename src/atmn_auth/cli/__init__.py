"""The `atmn` command: click parses flags, then hands plain values to plain functions.

Only click and the small modules it needs are imported here. Subcommands are loaded on
demand (`_AtmnGroup.get_command`): `atmn --help` lists them from the summaries kept in
`COMMANDS` without importing any of them, and `atmn env` imports only `cli.env`. Each
command imports what it uses (authlib, httpx2, questionary) inside its own body.
`atmn --version` does not even get here: `atmn_auth.__main__.main` answers it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, NamedTuple

import click

from atmn_auth import __version__
from atmn_auth.errors import AtmnError


class LazyCommand(NamedTuple):
    """Where a subcommand lives, and the first paragraph of its help for `atmn --help`."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, LazyCommand] = {
    "env": LazyCommand(
        "atmn_auth.cli.env",
        "env",
        "Show which key is in force, where it comes from, and whether Autumn accepts it.",
    ),
    "login": LazyCommand(
        "atmn_auth.cli.login",
        "login",
        "Sign in through the browser and write fresh keys to the nearest .env.",
    ),
    "logout": LazyCommand(
        "atmn_auth.cli.logout",
        "logout",
        "Remove AUTUMN_SECRET_KEY and AUTUMN_PROD_SECRET_KEY from the nearest .env and "
        "revoke them on the server.",
    ),
}


class _AtmnGroup(click.Group):
    """Loads subcommands on demand; turns `AtmnError` into one line on stderr and its exit
    code, and Ctrl-C into exit 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            where = COMMANDS[cmd_name]
            command = getattr(import_module(where.module), where.attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but short help comes from `COMMANDS`, so no command is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None:
                loaded = click.Command(name, help=COMMANDS[name].summary)
            if not loaded.hidden:
                rows.append((name, loaded.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
    from atmn_auth.cli.options import GlobalOptions

    ctx.obj = GlobalOptions(prod=prod, local=local, headless=headless)


def main() -> None:
    cli(prog_name="atmn")


if __name__ == "__main__":  # pragma: no cover
    main()
