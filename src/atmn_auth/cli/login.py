"""`atmn login`: the click layer over `atmn_auth.commands.login.run_login` (and, with
`--with-key`, `atmn_auth.commands.withkey.run_with_key`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from atmn_auth.cli.options import (
    NoEchoCommand,
    browser_timeout_option,
    debug_option,
    device_option,
    env_file_option,
    env_options,
    invocation,
    isatty,
    no_browser_option,
    org_option,
)

#: What `atmn login` says to any word on its command line that is not an option: it may
#: be a key, so it is never repeated.
NO_ARGUMENTS = (
    "unexpected argument (not repeated: it may be a key); the key is read from standard "
    "input, never from the command line: printf '%s\\n' \"$AUTUMN_KEY\" | atmn login --with-key"
)

#: Options of the browser sign-in that mean nothing with `--with-key`.
_BROWSER_ONLY = ("org", "no_browser", "timeout", "force", "revoke_replaced", "device")


class LoginCommand(NoEchoCommand):
    refusal = NO_ARGUMENTS


@click.command(name="login", cls=LoginCommand)
@env_options
@org_option("The organization to mint keys for.")
@env_file_option("Write to this file instead of the nearest .env.")
@no_browser_option
@browser_timeout_option
@click.option("--force", is_flag=True, help="Sign in even when the current key still works.")
@click.option(
    "--revoke-replaced/--keep-replaced",
    default=None,
    help="Revoke the keys the new ones replace in the file (default: ask on a terminal, "
    "else keep them).",
)
@device_option
@click.option(
    "--with-key",
    is_flag=True,
    help="Write a key you already have instead of signing in: read from standard input "
    "(a pipe, or a hidden prompt), never from the command line. With -p, the live key.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="With --with-key: check only the key's format, do not ask the server.",
)
@debug_option
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
    device: bool | None,
    with_key: bool,
    offline: bool,
    debug: bool,
) -> None:
    """Sign in through the browser and write fresh keys to the nearest .env.

    With --with-key, write a key you already have instead, read from standard input
    (only the selected environment's variable: AUTUMN_SECRET_KEY, with -p the live one).
    """
    _check_combination(ctx, with_key=with_key, offline=offline)
    if with_key:
        _login_with_key(ctx, sub_prod, sub_local, sub_headless, env_file, offline, debug)
        return

    from atmn_auth.auth.login import LoginOptions
    from atmn_auth.commands.login import run_login

    inv, opts = invocation(ctx, sub_prod, sub_local, sub_headless, debug=debug)
    options = LoginOptions(
        env_file=env_file,
        org=org,
        open_browser=not (no_browser or opts.headless),
        timeout=timeout,
        force=force,
        revoke_replaced=revoke_replaced,
        device=device,
    )
    with inv:
        ctx.exit(run_login(inv, options))


def _check_combination(ctx: click.Context, *, with_key: bool, offline: bool) -> None:
    """`--offline` only with `--with-key`; the browser's options never with it."""
    if offline and not with_key:
        raise click.UsageError("--offline goes with --with-key only", ctx=ctx)
    if not with_key:
        return
    for name in _BROWSER_ONLY:
        if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT):
            param = next(p for p in ctx.command.params if p.name == name)
            shown = "/".join(opt for opt in (*param.opts, *param.secondary_opts))
            raise click.UsageError(
                f"{shown} is for the browser sign-in; it cannot be used with --with-key",
                ctx=ctx,
            )


def _login_with_key(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    env_file: Path | None,
    offline: bool,
    debug: bool,
) -> None:
    """`atmn login --with-key`: the key from standard input, checked, written."""
    from atmn_auth.commands.withkey import key_prompt, read_key_input, run_with_key

    typed = isatty(sys.stdin)
    inv, _ = invocation(
        ctx, sub_prod, sub_local, sub_headless, offline=offline, debug=debug, interactive=typed
    )
    key_text = read_key_input(
        stdin=sys.stdin.buffer, interactive=typed, prompt=key_prompt(inv.settings)
    )
    with inv:
        run_with_key(inv, key_text=key_text, typed=typed, env_file=env_file)
