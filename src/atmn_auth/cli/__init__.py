"""The `atmn` command: click parses flags, builds one `Invocation` (`cli.options`) and
calls the command's `run_*` in `atmn_auth.commands`.

Only click and the small modules it needs are imported here. Subcommands are loaded on
demand (`_AtmnGroup.get_command`): `atmn --help` lists them from the summaries kept in
`COMMANDS` without importing any of them, and `atmn env` imports only `cli.env`. Each
command imports what it uses (authlib, httpx2, questionary) inside its own body.
`atmn --version` does not even get here: `atmn_auth.__main__.main` answers it.

Every error is one line on stderr, `atmn: error: <what>` (`atmn_auth.term.style`):
`AtmnError`s with their exit code, and click's own usage errors (an unknown command or
option, a missing argument, a bad value) with exit 2, a "did you mean" where one is
close, and a hint line, `Run 'atmn <command> --help' for usage.`
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NamedTuple

import click

from atmn_auth._version import __version__
from atmn_auth.errors import AtmnError, interrupted_line
from atmn_auth.term.style import Style


class LazyCommand(NamedTuple):
    """Where a subcommand lives, and the first paragraph of its help for `atmn --help`.
    An alias (`alias_of`) is the same command under another name."""

    module: str
    attribute: str
    summary: str
    alias_of: str | None = None


ENV_SUMMARY = "Show which key is in force, where it comes from, and whether Autumn accepts it."

COMMANDS: dict[str, LazyCommand] = {
    "completion": LazyCommand(
        "atmn_auth.cli.completion",
        "completion",
        "Print the shell completion script for bash, zsh or fish.",
    ),
    "env": LazyCommand("atmn_auth.cli.env", "env", ENV_SUMMARY),
    "keys": LazyCommand(
        "atmn_auth.cli.keys",
        "keys",
        "List, create, revoke and rotate your organization's API keys.",
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
    "run": LazyCommand(
        "atmn_auth.cli.run",
        "run",
        "Run a command with AUTUMN_SECRET_KEY set to the key in force (with -p, the live key).",
    ),
    "status": LazyCommand("atmn_auth.cli.env", "env", ENV_SUMMARY, alias_of="env"),
    "version": LazyCommand(
        "atmn_auth.cli.version",
        "version",
        "Print the version of atmn, as `atmn --version` does.",
    ),
}

#: The "Examples:" section of `atmn --help`.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("atmn login", "sign in; write both keys to the nearest .env"),
    ("atmn -l login", "sign in against autumn-local (localhost:8080)"),
    ("atmn env", "which key is in force; does Autumn accept it?"),
    ("atmn -p env --json", "the same for the live key, as JSON"),
    ("atmn run -- npm test", "run a command with the key in AUTUMN_SECRET_KEY"),
    ("atmn logout", "remove both keys from the .env and revoke them"),
    ("atmn keys list", "the organization's keys; the ones in .env marked"),
    ("atmn completion bash", 'tab completion: eval "$(atmn completion bash)"'),
)


def suggest_command(name: str, names: Sequence[str]) -> str:
    """`no command 'logni'; did you mean 'login'?`, or the list of commands."""
    import difflib

    from atmn_auth.keyformat import redact

    if name.startswith(("am_sk_", "am_pk_")) or len(name) > 40:  # a key pasted in the wrong place
        return (
            f"no command {redact(name)!r}; keys are never given on the command line: "
            "`atmn login --with-key` reads one from standard input"
        )
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"no command {name!r}; did you mean {close[0]!r}?"
    return f"no command {name!r} (commands: {', '.join(names)})"


#: Click's own words for arguments no command takes; it would repeat them.
_EXTRA_ARGUMENTS = ("Got unexpected extra argument", "Got unexpected extra arguments")
NOT_REPEATED = (
    "unexpected argument (not repeated: it may be a key); keys are never given on the command line"
)


def usage_message(exc: click.UsageError) -> str:
    """Click's message for a usage error, in atmn's words: lower case, no final period,
    and never a key (an extra argument is not repeated at all; anything shaped like an
    Autumn key is shown redacted)."""
    from atmn_auth.keyformat import redact_keys_in

    if isinstance(exc, click.NoSuchOption):
        found = f"no option {exc.option_name!r}"
        if exc.possibilities:  # closest first
            found = f"{found}; did you mean {exc.possibilities[0]!r}?"
        return redact_keys_in(found)
    if exc.message.startswith(_EXTRA_ARGUMENTS):
        return NOT_REPEATED
    message = " ".join(exc.format_message().split())  # one line, even for a list of choices
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return redact_keys_in(message.removesuffix("."))


#: Bare `atmn` (click 8.2 and later raise this to print the help page; 8.1 just prints it).
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    getattr(click.exceptions, name)
    for name in ("NoArgsIsHelpError",)
    if hasattr(click.exceptions, name)
)


#: `ctx.meta` key: the subcommand's name and command, once resolved.
_RESOLVED = "atmn_auth.cli.resolved"


def _stderr_style() -> Style:
    import os

    return Style(sys.stderr, os.environ)


class _AtmnGroup(click.Group):
    """Loads subcommands on demand; prints every error as `atmn: error: ...` on stderr
    (click's usage errors too, with exit 2 and a hint, and a "did you mean" for a
    mistyped command); turns `AtmnError` into its exit code and Ctrl-C into exit 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            where = COMMANDS[cmd_name]
            command = getattr(import_module(where.module), where.attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if (
            not ctx.resilient_parsing
            and not name.startswith("-")
            and self.get_command(ctx, name) is None
        ):
            raise click.UsageError(suggest_command(name, self.list_commands(ctx)), ctx=ctx)
        resolved = super().resolve_command(ctx, args)
        ctx.meta[_RESOLVED] = resolved[:2]
        return resolved

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but each summary whole (click shortens them to fit one line), from
        `COMMANDS`, so no command is imported; an alias says what it stands for."""
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            lazy = COMMANDS.get(name)
            if lazy is not None and lazy.alias_of is not None:
                rows.append((name, f"Alias of {lazy.alias_of}."))
            elif lazy is not None:
                rows.append((name, lazy.summary))
            else:
                loaded = self.commands[name]
                if not loaded.hidden:
                    rows.append((name, loaded.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Examples"):
            formatter.write_dl(list(EXAMPLES))
        super().format_epilog(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # click's parser raises some (a missing option value) without a context: give
            # them the subcommand's, for the `atmn <command> --help` hint
            name, command = ctx.meta.get(_RESOLVED, (None, None))
            if exc.ctx is None and name is not None and command is not None:
                exc.ctx = click.Context(command, info_name=name, parent=ctx)
            raise
        except AtmnError as exc:
            click.echo(_stderr_style().error(exc.message), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo("\n" + interrupted_line(exc), err=True)
            ctx.exit(130)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's `main`, with atmn's error lines: `atmn: error: <what>` on stderr, then
        for a usage error `Run 'atmn <command> --help' for usage.` (exit 2)."""
        if not standalone_mode:
            return super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        try:
            code = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except click.UsageError as exc:
            if isinstance(exc, _NO_ARGS_IS_HELP):  # bare `atmn`: click's help page
                exc.show()
                sys.exit(exc.exit_code)
            where = exc.ctx.command_path if exc.ctx is not None else "atmn"
            style = _stderr_style()
            click.echo(style.error(usage_message(exc)), err=True)
            click.echo(f"Run '{where} --help' for usage.", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            from atmn_auth.keyformat import redact_keys_in

            click.echo(_stderr_style().error(redact_keys_in(exc.format_message())), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:  # Ctrl-C outside a command (click printed the newline)
            click.echo("atmn: interrupted; nothing was changed.", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


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
