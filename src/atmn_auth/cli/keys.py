"""`atmn keys list|create|revoke|rotate`: the click layer over `commands.keys_list`,
`commands.keys_create`, `commands.keys_revoke` and `commands.keys_rotate`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from atmn_auth.cli.options import (
    NoEchoCommand,
    env_options,
    invocation,
    isatty,
    server_timeout_option,
    sign_in_choices,
    sign_in_options,
)

F = TypeVar("F", bound=Callable[..., Any])


class KeysGroup(click.Group):
    """`atmn keys <subcommand>`, with atmn's "did you mean" for a mistyped one."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if not ctx.resilient_parsing and not name.startswith("-") and name not in self.commands:
            from atmn_auth.cli import suggest_command

            raise click.UsageError(suggest_command(name, sorted(self.commands)), ctx=ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each summary whole (click would shorten them to one line)."""
        rows = [
            (name, command.get_short_help_str(limit=10_000))
            for name, command in sorted(self.commands.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(name="keys", cls=KeysGroup)
def keys() -> None:
    """List, create, revoke and rotate your organization's API keys.

    Each command works with the keys of the organization and environment of the key in
    force (as `atmn env` finds it; -p for the live keys), on servers that offer it.
    """


@keys.command(name="list", cls=NoEchoCommand)
@env_options
@click.option("--json", "as_json", is_flag=True, help="Print the keys as one JSON object.")
@server_timeout_option()
@click.pass_context
def list_keys(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    as_json: bool,
    timeout: float,
) -> None:
    """List the keys of the organization and environment of the key in force.

    Newest first: name, last 4 characters, when created and last used, and how it was
    created; the keys in this project's .env are marked with *.
    """
    from atmn_auth.commands.keys_list import run_list

    inv, _ = invocation(ctx, sub_prod, sub_local, sub_headless, timeout=timeout)
    with inv:
        code = run_list(inv, as_json=as_json)
    ctx.exit(code)


@keys.command(name="create", cls=NoEchoCommand)
@env_options
@click.option(
    "--name", required=True, metavar="NAME", help="What to call the key (shown in key lists)."
)
@click.option(
    "--env",
    "kind",
    type=click.Choice(["sandbox", "live"]),
    help="Which key to keep: sandbox (the default) or live (the default with -p).",
)
@click.option("--reveal", is_flag=True, help="Print the key on a terminal too.")
@sign_in_options(org="The organization to mint the key for.")
@click.pass_context
def create(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    name: str,
    kind: str | None,
    reveal: bool,
    org: str | None,
    no_browser: bool,
    timeout: float,
    device: bool | None,
    debug: bool,
) -> None:
    """Sign in, mint one key named NAME, and print it once, for a secret store.

    The key alone goes to standard output (pipe it: atmn keys create --name ci | gh
    secret set AUTUMN_SECRET_KEY); no file is written. The server mints a pair: the key
    of the other environment is revoked at once. On a terminal it refuses without
    --reveal.
    """
    from atmn_auth.errors import UsageError
    from atmn_auth.keyformat import KeyKind

    inv, opts = invocation(ctx, sub_prod, sub_local, sub_headless, debug=debug)
    settings = inv.settings
    if kind == "sandbox" and settings.prod:
        raise click.UsageError("-p asks for the live key, --env sandbox for the other", ctx=ctx)
    chosen: KeyKind = "live" if (kind or settings.kind) == "live" else "sandbox"
    if not reveal and isatty(sys.stdout):
        raise UsageError(
            "keys create prints the whole key and standard output is a terminal; pipe it "
            "into your secret store (atmn keys create --name NAME | …), or add --reveal to "
            "show it here"
        )

    from atmn_auth.commands.keys_create import CreateOptions, check_name, run_create

    check_name(name)
    options = CreateOptions(
        name=name,
        kind=chosen,
        sign_in=sign_in_choices(
            opts, org=org, no_browser=no_browser, timeout=timeout, device=device
        ),
    )
    with inv:
        code = run_create(inv, options)
    ctx.exit(code)


@keys.command(name="revoke", cls=NoEchoCommand)
@env_options
@click.argument("selector", metavar="ID|NAME|LAST4")
@click.option("--yes", "-y", is_flag=True, help="Revoke even a key this project uses.")
@server_timeout_option()
@click.pass_context
def revoke(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    selector: str,
    yes: bool,
    timeout: float,
) -> None:
    """Revoke one key, named by its id, its name or its last 4 characters.

    A selector that names several keys lists them and revokes nothing. Revoking a key
    this project uses asks first on a terminal, and needs --yes elsewhere.
    """
    from atmn_auth.commands.keys_revoke import run_revoke

    inv, _ = invocation(ctx, sub_prod, sub_local, sub_headless, timeout=timeout)
    with inv:
        code = run_revoke(inv, selector=selector, yes=yes)
    ctx.exit(code)


@keys.command(name="rotate", cls=NoEchoCommand)
@env_options
@sign_in_options(org=None)
@click.pass_context
def rotate(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    no_browser: bool,
    timeout: float,
    device: bool | None,
    debug: bool,
) -> None:
    """Sign in, write new keys to the .env the current ones come from, check them, and only
    then revoke the old ones.

    Any failure before the new keys pass the check leaves the old keys in the file and
    working.
    """
    from atmn_auth.commands.keys_rotate import run_rotate

    inv, opts = invocation(ctx, sub_prod, sub_local, sub_headless, debug=debug)
    options = sign_in_choices(opts, no_browser=no_browser, timeout=timeout, device=device)
    with inv:
        code = run_rotate(inv, options)
    ctx.exit(code)
