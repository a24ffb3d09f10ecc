"""The `atmn` console script and `python -m atmn_auth`.

Three command lines are answered here, before click is imported (importing click alone
costs almost four times as much as starting Python):

- `atmn --version` (and `-V`);
- `atmn --help` (and `-h`), from a cache of click's own rendering
  (`atmn_auth.helpcache`; on a miss click renders and prints it);
- `atmn [-p|-l] env [--offline] [--json] [-p|-l]`: the same `run_env` the click command
  calls, with the same output and exit code; online only where no person is here to be
  offered a new sign-in (no terminal, or `--json`), which is how scripts and CI run it.
  Anything else on the line (`--env-file`, `--timeout`, `--headless`, `-pl`, `--`, ...),
  output that click would change (escape sequences) or could not be written as UTF-8,
  or any unexpected failure before the answer goes to click instead.
  tests/startup/test_env_fastpath.py keeps the two paths the same.

Every other command line goes to the click app in `atmn_auth.cli`.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

    from atmn_auth.commands.invocation import Invocation

VERSION_FLAGS = ("--version", "-V")
HELP_FLAGS = ("--help", "-h")
COMPLETE_VAR = "_ATMN_COMPLETE"

#: The flags `atmn env --offline` is answered with before click: each maps to the
#: parameter of click's `cli` group (`GROUP_FLAGS`) or `env` command (`ENV_FLAGS`) that
#: it sets to True. tests/startup/test_env_fastpath.py checks them against click's.
GROUP_FLAGS = {"-p": "prod", "--prod": "prod", "-l": "local", "--local": "local"}
ENV_FLAGS = {
    "-p": "sub_prod",
    "--prod": "sub_prod",
    "-l": "sub_local",
    "--local": "sub_local",
    "--offline": "offline",
    "--json": "as_json",
}


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 1 and args[0] in VERSION_FLAGS:
        from atmn_auth._version import __version__

        if sys.stdout is not None:  # None: started with stdout closed (as click.echo does)
            sys.stdout.write(f"atmn, version {__version__}\n")
            sys.stdout.flush()
        return

    if len(args) == 1 and args[0] in HELP_FLAGS:
        helpcache = _helpcache()
        if helpcache is not None and helpcache.serve(sys.argv):
            return

    flags = env_flags(args)
    if flags is not None:
        code = env_quick(flags)
        if code is not None:
            sys.exit(code)

    from atmn_auth.cli import main as click_main

    click_main()


# ---------------------------------------------------------------------------- --help


def _helpcache() -> ModuleType | None:
    """`atmn_auth.helpcache` (which imports nothing heavy), or None when it cannot load."""
    try:
        from atmn_auth import helpcache
    except (ImportError, OSError, SyntaxError):
        return None
    return helpcache


# ---------------------------------------------------------------------------- env


def env_flags(args: list[str]) -> dict[str, bool] | None:
    """The parameters `args` sets when it is exactly `[-p|-l]... env [flags]...` (see
    `ENV_FLAGS`); None for any other command line."""
    if COMPLETE_VAR in os.environ or os.name == "nt" or "env" not in args:
        return None
    at = args.index("env")
    found = {name: False for name in (*GROUP_FLAGS.values(), *ENV_FLAGS.values())}
    for arg, known in [(a, GROUP_FLAGS) for a in args[:at]] + [
        (a, ENV_FLAGS) for a in args[at + 1 :]
    ]:
        name = known.get(arg)
        if name is None:
            return None
        found[name] = True
    return found


def env_quick(flags: dict[str, bool]) -> int | None:
    """Runs `atmn env` as the click command does and returns its exit code, or None
    (having printed nothing) when click should answer instead."""
    out, err = sys.stdout, sys.stderr
    if out is None or err is None or not (_utf8(out) and _utf8(err)):
        return None
    online = not flags["offline"]
    if online and not flags["as_json"] and _person_here():
        return None  # click's command offers a new sign-in for a rejected key
    try:
        from atmn_auth.errors import AtmnError, interrupted_line

        lines: list[str] = []
        try:
            from atmn_auth.commands.env import run_env

            inv = _quick_invocation(flags, lines)
            with inv:
                code = run_env(inv, as_json=flags["as_json"])
            stream, text = out, "".join(f"{line}\n" for line in lines)
        except AtmnError as exc:  # what `cli._AtmnGroup.invoke` does with it
            from atmn_auth.term.style import Style

            stream, code = err, exc.exit_code
            text = Style(err, os.environ).error(exc.message) + "\n"
        except KeyboardInterrupt as exc:
            stream, text, code = err, f"\n{interrupted_line(exc)}\n", 130
        if "\x1b" in text and not _isatty(stream):  # the command strips it (term.console.emit)
            return None
        text.encode("utf-8")  # surrogates (undecodable file names): click's business
    except Exception:
        return None
    try:
        stream.write(text)
        stream.flush()
    except KeyboardInterrupt as exc:  # as `cli._AtmnGroup.invoke` does
        err.write(f"\n{interrupted_line(exc)}\n")
        err.flush()
        return 130
    except BrokenPipeError:  # as click's `main` does: quietly, exit code 1
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        return 1
    return code


def _quick_invocation(flags: dict[str, bool], lines: list[str]) -> Invocation:
    """The invocation `atmn_auth.cli.options.invocation` would build for `atmn env`,
    without a person (`env_quick` leaves that case to click): results collected in
    `lines`, messages on stderr, plainly marked (`env_quick` declines colour)."""
    from pathlib import Path

    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.settings import DEFAULT_TIMEOUT, load_settings
    from atmn_auth.term.console import Console

    settings = load_settings(
        prod=flags["prod"] or flags["sub_prod"],
        local=flags["local"] or flags["sub_local"],
        environ=os.environ,
    )
    return Invocation(
        settings,
        cwd=Path.cwd(),
        environ=os.environ,
        console=Console(out=lines.append),
        offline=flags["offline"],
        timeout=DEFAULT_TIMEOUT,
    )


def _person_here() -> bool:
    """`atmn_auth.term.console.on_terminal`, without importing the console."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _utf8(stream: object) -> bool:
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "")
    return encoding.replace("_", "") == "utf8"


def run() -> None:
    """The console script: `main`, then an exit that skips the interpreter's teardown.

    Once authlib, httpx2 and their dependencies are loaded, tearing the interpreter down
    (freeing every module, collecting garbage) takes tens of milliseconds after the work
    is done. The command's own work is over by then: `atexit` handlers still run and the
    standard streams are flushed, then the process ends with the command's exit code.
    Ctrl-C and errors take the usual way out.
    """
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # in an answer given before click (click handles its own)
        sys.stderr.write("\natmn: interrupted; nothing was changed.\n")
        code = 130
    else:
        code = 0
    if not isinstance(code, int):  # `sys.exit("message")`: as Python prints it
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that descriptor closed: nothing to deliver
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1  # e.g. a closed pipe: the output was not all delivered
    os._exit(code)


if __name__ == "__main__":
    run()
