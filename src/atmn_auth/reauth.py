"""Signing in again when Autumn rejects a key, where a person is there to approve it.

A rejected key (401) is recovered by running the `atmn login` flow once more, but only
when someone can answer the browser: on a terminal (stdin and stderr are TTYs), or when
the caller asked for headless sign-in (the URL is printed; the browser's redirect or a
pasted address finishes it). Anywhere else (CI, cron, containers) recovery refuses at
once, before any callback server is started, so that nothing waits for a person who
is not there. `ATMN_DISABLE_AUTH_RECOVERY=1` turns recovery off everywhere.

`LoginReauthenticator` is what `AutumnClient` uses: it mints the new keys into a private
temporary file and hands them back, so that the client can check them (same
organization) before they replace anything in the project's `.env`.
`recover_interactively` is the same recovery for `atmn env`, writing straight to the
`.env` the rejected key came from.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from atmn_auth.config import Settings
from atmn_auth.errors import AtmnError
from atmn_auth.redact import redact

if TYPE_CHECKING:
    from atmn_auth.backend import MintedKeys
    from atmn_auth.login import Console, LoginResult

DISABLE_VAR = "ATMN_DISABLE_AUTH_RECOVERY"
DEFAULT_TIMEOUT = 300.0
_FALSY = frozenset({"", "0", "false", "no", "off"})


class RecoveryUnavailable(AtmnError):
    """Nobody can approve a new sign-in here, or recovery is turned off."""


class SignInFailed(AtmnError):
    """The sign-in was attempted but did not produce keys (denied, timed out, …)."""


def recovery_disabled(environ: Mapping[str, str]) -> bool:
    """True when `ATMN_DISABLE_AUTH_RECOVERY` is set to anything but an empty/false value."""
    return environ.get(DISABLE_VAR, "").strip().lower() not in _FALSY


def login_command(settings: Settings) -> str:
    """The `atmn login` command line that signs in against the same server."""
    return "atmn login -l" if settings.local else "atmn login"


def on_terminal() -> bool:
    """Whether a person is probably at this process: stdin and stderr are both TTYs."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


@dataclass(frozen=True)
class OrgRef:
    """What is known of an organization: its id and/or slug (hosted Autumn may omit the id)."""

    id: str | None
    slug: str | None
    name: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrgRef | None:
        def text(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) and value else None

        ref = cls(id=text("id"), slug=text("slug"), name=text("name"))
        return ref if ref.id or ref.slug else None

    def label(self) -> str:
        shown = self.slug or self.id or "?"
        return f"{self.name} ({shown})" if self.name and self.name != shown else shown

    def same_as(self, other: OrgRef) -> bool | None:
        """Whether both name one organization; None when nothing comparable is known."""
        if self.id and other.id:
            return self.id == other.id
        if self.slug and other.slug:
            return self.slug == other.slug
        return None


@dataclass(frozen=True)
class RejectedKey:
    """The key Autumn answered 401 to, where it came from, and its organization if known."""

    settings: Settings
    var: str
    key: str
    env_file: Path
    organization: OrgRef | None = None
    pin_organization: bool = True  # mint the new keys for `organization` when it is known

    def __repr__(self) -> str:
        return (
            f"RejectedKey(var={self.var!r}, key={redact(self.key)!r}, env_file={self.env_file!r}, "
            f"organization={self.organization!r})"
        )


@dataclass(frozen=True)
class FreshKeys:
    """Keys from a new sign-in, not yet written anywhere the project reads."""

    keys: MintedKeys
    organization: OrgRef | None

    def key_for(self, settings: Settings) -> str:
        return self.keys.live_key if settings.prod else self.keys.sandbox_key


class Reauthenticator(Protocol):
    """What `AutumnClient` asks for new keys when its key is rejected."""

    def unavailable_reason(self) -> str | None:
        """Why no sign-in can happen here (checked before anything starts), or None."""

    def sign_in(self, rejected: RejectedKey) -> FreshKeys:
        """Signs in again and returns new keys; raises `AtmnError` when that fails."""

    def info(self, message: str) -> None:
        """Tells the person who approved the sign-in how it ended (stderr on a terminal)."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def default_console(*, interactive: bool, info: Callable[[str], None] = _stderr) -> Console:
    """The terminal: messages on stderr; prompts and pastes only when stdin is a TTY."""
    from atmn_auth.browser import open_in_browser
    from atmn_auth.login import Console

    prompter = None
    if interactive:
        from atmn_auth.prompts import QuestionaryPrompter

        prompter = QuestionaryPrompter()
    return Console(
        info=info,
        interactive=interactive,
        prompter=prompter,
        opener=open_in_browser,
        paste_stream=sys.stdin if interactive else None,
    )


class LoginReauthenticator:
    """Runs the `atmn login` flow again when a person can approve it.

    `interactive=None` looks at the terminal (stdin and stderr TTYs); `headless=True`
    allows a sign-in without one (the URL is printed instead of opened). `console`
    replaces the terminal (tests inject an opener that drives a browser).
    """

    def __init__(
        self,
        *,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
        headless: bool = False,
        interactive: bool | None = None,
        console: Console | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        import os

        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.environ: Mapping[str, str] = environ if environ is not None else os.environ
        self.headless = headless
        self.interactive = on_terminal() if interactive is None else interactive
        self._console = console
        self.timeout = timeout

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = default_console(interactive=self.interactive and on_terminal())
        return self._console

    def info(self, message: str) -> None:
        self.console.info(message)

    def unavailable_reason(self) -> str | None:
        if recovery_disabled(self.environ):
            return f"re-authentication is turned off ({DISABLE_VAR} is set)"
        if not (self.interactive or self.headless):
            return "there is no terminal to approve a new sign-in from"
        return None

    def sign_in(self, rejected: RejectedKey) -> FreshKeys:
        reason = self.unavailable_reason()
        if reason is not None:
            raise RecoveryUnavailable(reason)
        from atmn_auth.login import LoginOptions, run_login

        console = self.console
        console.info(
            f"Autumn rejected {rejected.var} ({redact(rejected.key)}) from {rejected.env_file} "
            "(401). Signing in again to replace the keys in that file…"
        )
        pinned = rejected.organization if rejected.pin_organization else None
        # The keys go to a private file first: the caller checks them before they replace
        # anything in the project's .env.
        with tempfile.TemporaryDirectory(prefix="atmn-reauth-") as scratch:
            options = LoginOptions(
                env_file=Path(scratch) / ".env",
                org=(pinned.id or pinned.slug) if pinned else None,
                open_browser=not self.headless,
                timeout=self.timeout,
                force=True,
            )
            try:
                result = run_login(
                    rejected.settings,
                    cwd=self.cwd,
                    environ=self.environ,
                    options=options,
                    console=console,
                )
            except AtmnError as exc:
                raise SignInFailed(exc.message) from exc
        return FreshKeys(keys=result.keys, organization=_organization_of_result(result))


def _organization_of_result(result: LoginResult) -> OrgRef | None:
    org = result.organization
    org_id = result.keys.org_id or (org.id if org is not None else None) or None
    if org is None:
        return OrgRef(id=org_id, slug=None) if org_id else None
    return OrgRef(id=org_id, slug=org.slug or None, name=org.name or None)


def recover_interactively(
    settings: Settings, cwd: Path, environ: Mapping[str, str], console: Console
) -> LoginResult | None:
    """Signs in again after a 401 on `settings.key_var`, when a person is at `console`.

    Writes both new keys to the `.env` the rejected key came from (the nearest `.env`
    when none holds it) and returns the login's result. Returns None without doing
    anything when the console is not interactive, recovery is turned off
    (`ATMN_DISABLE_AUTH_RECOVERY`), or the key comes from the process environment
    (a new key in `.env` would stay shadowed by it). Login failures raise `AtmnError`.
    """
    if not console.interactive or recovery_disabled(environ):
        return None
    from atmn_auth import envfile
    from atmn_auth.login import LoginOptions, run_login
    from atmn_auth.resolution import resolve_key

    resolution = resolve_key(settings.key_var, cwd=cwd, environ=environ)
    winner = resolution.winner
    if winner is not None and (winner.source == "environment" or winner.path is None):
        return None
    target = winner.path if winner is not None and winner.path else envfile.find_env_file(cwd)
    shown = redact(winner.value) if winner is not None else "(none)"
    console.info(
        f"Autumn rejected {settings.key_var} ({shown}) from {target} (401). "
        "Signing in again to replace the keys in that file…"
    )
    return run_login(
        settings,
        cwd=cwd,
        environ=environ,
        options=LoginOptions(env_file=target, force=True),
        console=console,
    )
