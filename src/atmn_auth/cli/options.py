"""Options shared by every subcommand (`-p`, `-l` and `--headless` work before or after
it), and the one factory every command is built from: `invocation` (settings, directory,
environment, console, offline flag; the HTTP session on first use)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from atmn_auth.settings import DEFAULT_TIMEOUT, Settings, load_settings

if TYPE_CHECKING:
    from atmn_auth.auth.signin import SignInOptions
    from atmn_auth.commands.invocation import Invocation

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class GlobalOptions:
    prod: bool = False
    local: bool = False
    headless: bool = False


def env_file_option(help: str) -> Callable[[F], F]:
    """`--env-file PATH`: a file to use instead of the nearest `.env`."""
    return click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), help=help)


def server_timeout_option(help: str = "Seconds to wait for the server.") -> Callable[[F], F]:
    """`--timeout SECONDS` for calls to the backend (default: `settings.DEFAULT_TIMEOUT`)."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        help=help,
    )


def env_options(func: F) -> F:
    """Adds `-p/--prod`, `-l/--local` and `--headless` to a subcommand."""
    func = click.option("--headless", "sub_headless", is_flag=True, hidden=True)(func)
    func = click.option("-l", "--local", "sub_local", is_flag=True, help="Use the local server.")(
        func
    )
    func = click.option("-p", "--prod", "sub_prod", is_flag=True, help="Use the live key.")(func)
    return func


def resolve_options(
    ctx: click.Context, sub_prod: bool, sub_local: bool, sub_headless: bool
) -> tuple[Settings, GlobalOptions]:
    """Merges the group's flags with the subcommand's and reads the `ATMN_*` overrides."""
    parent = ctx.find_object(GlobalOptions) or GlobalOptions()
    opts = GlobalOptions(
        prod=parent.prod or sub_prod,
        local=parent.local or sub_local,
        headless=parent.headless or sub_headless,
    )
    return load_settings(prod=opts.prod, local=opts.local, environ=os.environ), opts


def invocation(
    ctx: click.Context,
    sub_prod: bool,
    sub_local: bool,
    sub_headless: bool,
    *,
    offline: bool = False,
    timeout: float | None = None,
    debug: bool = False,
    interactive: bool | None = None,
) -> tuple[Invocation, GlobalOptions]:
    """The one `Invocation` a command runs with: the merged flags' settings, this
    directory, the process environment, the terminal's console (`--debug` lines on it;
    `interactive=False`: never ask), and whether the server may be asked."""
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.term.console import terminal_console

    settings, opts = resolve_options(ctx, sub_prod, sub_local, sub_headless)
    console = terminal_console(interactive=interactive, debug=trace(debug))
    inv = Invocation(
        settings,
        cwd=Path.cwd(),
        environ=os.environ,
        console=console,
        offline=offline,
        timeout=timeout,
    )
    return inv, opts


# --------------------------------------------------------------------------- sign-in


class NoEchoCommand(click.Command):
    """Refuses extra arguments without repeating them: a pasted key must not be printed
    (click's own message would repeat it). `refusal` is what it says instead."""

    refusal = (
        "unexpected argument (not repeated: it may be a key); keys are never given on the "
        "command line"
    )

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.allow_extra_args = True
        rest = super().parse_args(ctx, args)
        if ctx.args and not ctx.resilient_parsing:
            ctx.args = []
            raise click.UsageError(self.refusal, ctx=ctx)
        return rest


def org_option(help: str) -> Callable[[F], F]:
    """`--org ID_OR_SLUG`: the organization the new keys must be for."""
    return click.option("--org", metavar="ID_OR_SLUG", help=help)


def no_browser_option(func: F) -> F:
    return click.option(
        "--no-browser", is_flag=True, help="Print the sign-in URL instead of opening it."
    )(func)


def browser_timeout_option(func: F) -> F:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=300,
        show_default=True,
        help="Seconds to wait for the browser.",
    )(func)


def device_option(func: F) -> F:
    return click.option(
        "--device/--no-device",
        default=None,
        help="Sign in with a code shown here, for machines whose browser cannot reach this "
        "one (default: when no browser can be opened here and the server offers it) / Never "
        "use the device flow.",
    )(func)


def debug_option(func: F) -> F:
    return click.option(
        "--debug",
        is_flag=True,
        help="Print each step (secrets redacted) to stderr; ATMN_DEBUG=1 does the same.",
    )(func)


def sign_in_options(*, org: str | None) -> Callable[[F], F]:
    """The sign-in's options as `atmn login` has them; `--org` with `org` as its help."""

    def add(func: F) -> F:
        func = no_browser_option(browser_timeout_option(device_option(debug_option(func))))
        return org_option(org)(func) if org else func

    return add


def sign_in_choices(
    opts: GlobalOptions,
    *,
    no_browser: bool,
    timeout: float,
    device: bool | None,
    org: str | None = None,
) -> SignInOptions:
    """What `sign_in_options` asked for, as the sign-in flow takes it."""
    from atmn_auth.auth.signin import SignInOptions

    return SignInOptions(
        org=org, open_browser=not (no_browser or opts.headless), timeout=timeout, device=device
    )


DEBUG_VAR = "ATMN_DEBUG"


def trace(debug: bool) -> Callable[[str], None] | None:
    """`--debug`'s lines (`debug: …` on stderr), or None without it. `ATMN_DEBUG=1` acts
    as `--debug`, as it does for the official CLI."""
    import os

    from atmn_auth.settings import flag_set

    if not (debug or flag_set(os.environ, DEBUG_VAR)):
        return None
    return lambda line: click.echo(f"debug: {line}", err=True)


def isatty(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False
