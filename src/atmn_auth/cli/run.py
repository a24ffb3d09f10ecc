"""`atmn run`: the click layer over `atmn_auth.commands.run`."""

from __future__ import annotations

from pathlib import Path

import click

from atmn_auth.cli.options import (
    env_file_option,
    env_options,
    invocation,
    server_timeout_option,
)


@click.command(name="run", context_settings={"allow_interspersed_args": False})
@env_options
@click.option("--offline", is_flag=True, help="Do not ask the server whether it accepts the key.")
@env_file_option("Take the keys from this file alone (over the process environment).")
@server_timeout_option()
@click.option(
    "--live-too",
    is_flag=True,
    help="Without -p: give CMD the live key too, as AUTUMN_PROD_SECRET_KEY.",
)
@click.option(
    "--no-exec",
    is_flag=True,
    help="Stay CMD's parent (forwarding SIGINT, SIGTERM and SIGHUP) instead of becoming "
    "CMD; always so on Windows.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]")
@click.pass_context
def run(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    offline: bool,
    env_file: Path | None,
    timeout: float,
    live_too: bool,
    no_exec: bool,
    command: tuple[str, ...],
) -> None:
    """Run a command with AUTUMN_SECRET_KEY set to the key in force (with -p, the live key).

    CMD gets AUTUMN_SECRET_KEY (with -p, the live key) and, with -p or --live-too, the
    live key as AUTUMN_PROD_SECRET_KEY; never a key variable atmn left out. The key comes
    from the process environment, then the nearest .env; when the two disagree, a line on
    stderr says which was used.

    Unless --offline, the server checks the key first: a rejected key is exit 1 and CMD
    does not start (on a terminal, atmn offers to sign in again). Exits with CMD's exit
    status (128+N when it died of signal N); 127 when CMD is not found.
    """
    if not command:
        raise click.UsageError("no command to run: atmn run [-p] [-l] -- CMD [ARGS]", ctx=ctx)
    from atmn_auth.commands.run import prepare_run, start

    inv, _ = invocation(ctx, sub_prod, sub_local, sub_headless, offline=offline, timeout=timeout)
    with inv:  # the session is closed (its background work done) before CMD takes over
        prepared = prepare_run(inv, argv=command, env_file=env_file, live_too=live_too)
    ctx.exit(start(prepared, replace=not no_exec))
