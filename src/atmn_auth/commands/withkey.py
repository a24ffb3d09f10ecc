"""`atmn login --with-key`: write a key you already have, read from standard input.

For CI jobs and containers that want a `.env` file, and for a key made in the Autumn
dashboard. The key comes from standard input only (a pipe, or a hidden prompt on a
terminal), never from the command line, where `ps`, shell history and CI logs would
keep it. Only the selected environment's variable is written: `AUTUMN_SECRET_KEY`, or
`AUTUMN_PROD_SECRET_KEY` with `-p`.

The steps, and what each refuses:

1. `check_key_text`: the format (contract §3). Whitespace at either end (the newline
   `echo` adds, a space picked up with a paste) is dropped without a word: a key never
   holds any. Everything else that is not a well-formed key of the selected kind is a
   one-line `UsageError` (exit 2) with a hint for the usual mistakes: quotes around it
   (they are not stripped: "remove the quotes around the key"), a `NAME=` before it,
   several lines, whitespace inside it, a live key for the sandbox variable or the
   reverse, a publishable key, a truncated (or over-long) paste.
2. The target `.env` must be writable and private (`filemode.ensure_private`: on a
   terminal it offers `chmod 600`, elsewhere it refuses), checked before the server
   is asked.
3. Unless offline (`session` None): `GET /v1/organization/me` with the key. A 401 is
   "rejected" (exit 1); no answer, or an answer off the contract, is exit 1 too.
4. One atomic rewrite of the file (`envfiles.writer.update_env_file`); any failure
   leaves it as it was.

A key the new one replaces in the file is kept as it is (not revoked): it may be in
use elsewhere (a deployment, a teammate's machine), and with `--offline` there is no
server to ask anyway. The report says so, with where to revoke it.

Nothing here prints the key: errors name only its prefix, the report shows it redacted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from atmn_auth.errors import AtmnError, BackendUnreachable, InvalidKey, UsageError
from atmn_auth.keyformat import KEY_VARS, PREFIXES, KeyKind, key_kind, redact
from atmn_auth.settings import Settings

if TYPE_CHECKING:
    from atmn_auth.api.autumn import Organization
    from atmn_auth.api.session import Session
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.term.console import Console

KEY_BODY_LENGTH = 42
#: More than this on standard input is not one key (a whole file, say): refused unread.
MAX_INPUT_BYTES = 4096
PUBLISHABLE_PREFIX = "am_pk_"

_ASSIGNMENT_RE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_QUOTES = "'\"`\u2018\u2019\u201c\u201d"


@dataclass(frozen=True)
class WithKeyResult:
    env_file: Path
    var: str
    key: str
    created_file: bool
    #: The server's answer; None with `--offline`.
    organization: Organization | None
    #: False when the file already held exactly this key (nothing was written).
    changed: bool = True
    #: Autumn keys of the same variable the new one replaced in the file (kept alive).
    replaced: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # never show the key whole, even in a traceback
        return (
            f"WithKeyResult(env_file={self.env_file!r}, var={self.var!r}, "
            f"key={redact(self.key)!r}, created_file={self.created_file!r}, "
            f"organization={self.organization!r}, changed={self.changed!r}, "
            f"replaced={[redact(k) for k in self.replaced]!r})"
        )


# ---------------------------------------------------------------------------- reading


def read_key_input(
    *,
    stdin: BinaryIO,
    interactive: bool,
    prompt: str,
    getpass: Callable[[str], str] | None = None,
) -> str:
    """The key text: typed at a hidden prompt when `interactive`, else read from `stdin`.

    Raises `UsageError` when standard input holds far more than a key, or is not text.
    """
    if interactive:
        if getpass is None:
            import getpass as getpass_module

            getpass = getpass_module.getpass
        try:
            return getpass(prompt)
        except EOFError:  # Ctrl-D at the prompt
            return ""
    data = stdin.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(
            f"standard input holds more than {MAX_INPUT_BYTES} bytes, which is not one key: "
            "pipe the key alone"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            "standard input is not UTF-8 text, so not an Autumn key: pipe the key alone"
        ) from None


def key_prompt(settings: Settings) -> str:
    kind = settings.kind
    return f"Paste the {kind} key ({PREFIXES[kind]}…) for {settings.key_var} (input hidden): "


# ---------------------------------------------------------------------------- checking


def check_key_text(text: str, settings: Settings, *, interactive: bool = False) -> str:
    """The key in `text`, when it is a well-formed key of `settings.kind`; otherwise a
    one-line `UsageError` with a hint. The message never holds the key (its prefix at
    most). Whitespace at either end is dropped."""
    kind = settings.kind
    var = settings.key_var
    prefix = PREFIXES[kind]
    key = text.strip()
    if not key:
        if interactive:
            raise UsageError("no key was entered; nothing was written")
        raise UsageError(
            "no key on standard input; pipe it in: "
            f"printf '%s\\n' \"$AUTUMN_KEY\" | {settings.command('login --with-key')}"
        )
    lines = key.splitlines()
    if len(lines) > 1:
        raise UsageError(
            f"standard input holds {len(lines)} lines, not one key: pipe the key alone "
            "(not a .env file)"
        )
    assignment = _ASSIGNMENT_RE.match(key)
    if assignment and not key.startswith(("am_sk_", PUBLISHABLE_PREFIX)):
        raise UsageError(
            f"give the key alone, without `{assignment.group(1)}=` before it; nothing was written"
        )
    if key[0] in _QUOTES or key[-1] in _QUOTES:
        raise UsageError("remove the quotes around the key; nothing was written")
    if any(ch.isspace() for ch in key):
        raise UsageError(
            "the key has a space or tab inside it (was it wrapped when copied?); copy it "
            "again whole; nothing was written"
        )
    other: KeyKind = "live" if kind == "sandbox" else "sandbox"
    if key.startswith(PREFIXES[other]):
        raise UsageError(_wrong_kind(other, settings))
    if key.startswith(PUBLISHABLE_PREFIX):
        raise UsageError(
            f"this is a publishable key ({PUBLISHABLE_PREFIX}…); {var} holds a secret key, "
            f"{prefix}…; nothing was written"
        )
    if not key.startswith(prefix):
        raise UsageError(
            f"this is not an Autumn {kind} secret key: those start with {prefix} (then "
            f"{KEY_BODY_LENGTH} letters or digits); nothing was written"
        )
    body = key[len(prefix) :]
    if body and not (body.isascii() and body.isalnum()):
        raise UsageError(
            f"the key has characters an Autumn key never has: only letters and digits "
            f"follow {prefix}; nothing was written"
        )
    if len(body) < KEY_BODY_LENGTH:
        short = KEY_BODY_LENGTH - len(body)
        raise UsageError(
            f"the key is {_characters(short)} short ({prefix} and {len(body)} letters or "
            f"digits, not {KEY_BODY_LENGTH}): it looks truncated; copy it again whole; "
            "nothing was written"
        )
    if len(body) > KEY_BODY_LENGTH:
        extra = len(body) - KEY_BODY_LENGTH
        raise UsageError(
            f"the key is {_characters(extra)} too long ({prefix} and {len(body)} letters "
            f"or digits, not {KEY_BODY_LENGTH}): copy it again, alone; nothing was written"
        )
    assert key_kind(key) == kind
    return key


def _characters(count: int) -> str:
    return "one character" if count == 1 else f"{count} characters"


def _wrong_kind(given: KeyKind, settings: Settings) -> str:
    var = settings.key_var
    if given == "live":
        return (
            f"this is a live key ({PREFIXES['live']}…), but {var} holds the sandbox key: "
            f"add -p to write it to {KEY_VARS['live']}; nothing was written"
        )
    return (
        f"this is a sandbox key ({PREFIXES['sandbox']}…), but -p writes {var}, the live "
        f"key: drop -p to write it to {KEY_VARS['sandbox']}; nothing was written"
    )


# ---------------------------------------------------------------------------- the flow


def run_with_key(
    inv: Invocation, *, key_text: str, typed: bool = False, env_file: Path | None = None
) -> WithKeyResult:
    """Checks `key_text` (`typed`: at a prompt on this terminal), asks the server (not
    offline), writes the key to `env_file` or the nearest `.env`, and prints the report
    on `inv.console`, which also answers the question about a file others can read.
    Raises `AtmnError` (the file untouched) when any step fails."""
    from atmn_auth.auth.filemode import ensure_private
    from atmn_auth.envfiles import reader, writer

    settings, cwd, environ, console = inv.settings, inv.cwd, inv.environ, inv.console
    trace = console.debug
    key = check_key_text(key_text, settings, interactive=typed)
    var = settings.key_var
    if env_file is not None:
        target = env_file if env_file.is_absolute() else cwd / env_file
        target = Path(os.path.abspath(target))
    else:
        target = reader.key_file(cwd, environ, KEY_VARS.values())
    writer.ensure_writable(target)  # before the server is asked
    checked = ensure_private(target, console, environ)
    trace(f"the key is a well-formed {settings.kind} key ({redact(key)}); writing to {target}")

    organization = None
    if not inv.offline:
        organization = verify_key(key, settings, inv.session)
        trace(f"the server accepted it: {organization.label()}")
    else:
        trace("--offline: the server was not asked")

    update = writer.update_env_file(target, set_values={var: key}, checked=checked)
    replaced = [v for v in update.previous_all.get(var, []) if v != key and key_kind(v)]
    result = WithKeyResult(
        env_file=update.path,
        var=var,
        key=key,
        created_file=update.created,
        organization=organization,
        changed=update.changed,
        replaced=replaced,
    )
    print_with_key_result(result, settings, cwd=cwd, environ=environ, console=console)
    return result


def verify_key(key: str, settings: Settings, session: Session) -> Organization:
    """`GET /v1/organization/me` with `key`: its organization, or a one-line `AtmnError`
    (exit 1) that says nothing was written."""
    from atmn_auth.api.autumn import Autumn

    try:
        return Autumn.of(settings, session).organization_me(key)
    except InvalidKey as exc:
        raise AtmnError(
            f"{settings.backend_url} rejected the key ({_reason(exc)}): it is unknown or "
            "revoked; nothing was written"
        ) from None
    except BackendUnreachable as exc:
        tail = "nothing was written (--offline writes the key without asking the server)"
        if exc.message.endswith("."):
            raise AtmnError(f"{exc.message} {tail[0].upper()}{tail[1:]}.") from None
        raise AtmnError(f"{exc.message}; {tail}") from None
    except AtmnError as exc:
        raise AtmnError(f"checking the key failed: {exc.message}; nothing was written") from None


def _reason(exc: InvalidKey) -> str:
    return exc.message.removeprefix("the server rejected the key: ")


# ---------------------------------------------------------------------------- the report


def print_with_key_result(
    result: WithKeyResult,
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    console: Console,
) -> None:
    """What `atmn login --with-key` prints: the server's answer (✓), the file and the
    key (redacted) on stdout; warnings on stderr, as `atmn login` does."""
    org = result.organization
    if org is not None:
        console.ok(f"Key accepted: organization {org.label()}.")
    else:
        console.ok(f"Key well formed ({settings.kind}); not checked with the server (--offline).")
    if result.changed:
        verb = "Created" if result.created_file else "Updated"
        console.result(f"{verb} {result.env_file}:")
    else:
        console.result(f"{result.env_file} already holds this key; nothing was changed:")
    console.result(f"  {result.var:<24} {redact(result.key)}  ({settings.kind})")
    for old in result.replaced:
        console.result(
            f"Replaced {redact(old)}: not revoked, it may be in use elsewhere; if not, "
            f"{settings.revoke_elsewhere(old)}."
        )
    from atmn_auth.commands.login import written_key_warnings

    written = {result.var: result.key}
    for warning in written_key_warnings(result.env_file, written, cwd=cwd, environ=environ):
        console.warn(f"Warning: {warning}")
    console.result(
        f"Next: `{settings.command('env')}` shows the key in force; your code reads "
        f"{settings.key_var}."
    )
