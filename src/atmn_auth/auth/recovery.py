"""Signing in again when Autumn rejects a key, where a person is there to approve it.

A rejected key (401) is recovered by signing in once more (`signin`), but only when
someone can answer the browser: on a terminal (`console.on_terminal`), or when the
caller asked for headless sign-in (the URL is printed; the browser's redirect or a
pasted address finishes it). Anywhere else (CI, cron, containers) recovery refuses at
once, before any callback server is started, so that nothing waits for a person who
is not there. `ATMN_DISABLE_AUTH_RECOVERY=1` turns recovery off everywhere.

`replace_rejected_key` is the whole recovery of `AutumnClient`: ask the
`Reauthenticator` for new keys (`LoginReauthenticator` runs the sign-in), check that
they are for the rejected key's organization, then write them to the `.env` the
rejected key came from. `atmn env` offers a login into that file (`recover_interactively`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from atmn_auth.errors import (
    AtmnError,
    OrganizationMismatch,
    RecoveryUnavailable,
    SignInFailed,
)
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR, key_name, redact
from atmn_auth.settings import Settings, flag_set

if TYPE_CHECKING:
    from atmn_auth.api.autumn import MintedKeys, Organization
    from atmn_auth.api.session import Session
    from atmn_auth.auth.login import LoginResult
    from atmn_auth.envfiles.privacy import Checked
    from atmn_auth.term.console import Console

DISABLE_VAR = "ATMN_DISABLE_AUTH_RECOVERY"
DEFAULT_TIMEOUT = 300.0


def recovery_disabled(environ: Mapping[str, str]) -> bool:
    """True when `ATMN_DISABLE_AUTH_RECOVERY` is set to anything but an empty/false value."""
    return flag_set(environ, DISABLE_VAR)


@dataclass(frozen=True)
class RejectedKey:
    """The key Autumn answered 401 to, where it came from, and its organization if known."""

    settings: Settings
    var: str
    key: str
    env_file: Path
    organization: Organization | None = None
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
    organization: Organization | None
    #: The file they go to, as it was when keys were allowed into it (the writer looks
    #: again under its lock); None when no check was made.
    checked: Checked | None = None

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


class LoginReauthenticator:
    """Signs in again (the `atmn login` sign-in) when a person can approve it.

    `interactive=None` looks at the terminal; `headless=True` allows a sign-in without
    one (the URL is printed instead of opened). `console` replaces the terminal (tests
    inject an opener that drives a browser).
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

        from atmn_auth.term.console import on_terminal

        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.environ: Mapping[str, str] = environ if environ is not None else os.environ
        self.headless = headless
        self.interactive = on_terminal() if interactive is None else interactive
        self._console = console
        self.timeout = timeout

    @property
    def console(self) -> Console:
        if self._console is None:
            from atmn_auth.term.console import terminal_console

            self._console = terminal_console(interactive=self.interactive)
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
        from atmn_auth.api.autumn import Autumn, Organization
        from atmn_auth.api.session import Session
        from atmn_auth.auth.filemode import ensure_private
        from atmn_auth.auth.signin import SignInOptions, sign_in

        console = self.console
        try:  # the new keys go where the old ones were: only into a private file
            checked = ensure_private(rejected.env_file, console, self.environ)
        except AtmnError as exc:
            raise RecoveryUnavailable(exc.message) from None
        console.info(
            f"Autumn rejected {rejected.var} ({redact(rejected.key)}) from {rejected.env_file} "
            "(401). Signing in again to replace the keys in that file…"
        )
        pinned = rejected.organization if rejected.pin_organization else None
        options = SignInOptions(  # the check that it is the same one: `replace_rejected_key`
            hint=(pinned.slug or pinned.id) if pinned else None,
            open_browser=not self.headless,
            timeout=self.timeout,
            key_name=key_name(rejected.env_file),
        )
        try:
            with Session(self.environ) as session:
                signed = sign_in(
                    rejected.settings, session, console, environ=self.environ, options=options
                )
                signed.revoked.result()
                organization = signed.organization
                if organization is None:  # the sign-in could not tell: ask the new key
                    autumn = Autumn.of(rejected.settings, session, extensions=signed.extensions)
                    organization = autumn.organization_of(signed.keys.sandbox_key)
        except AtmnError as exc:
            raise SignInFailed(exc.message) from exc
        org_id = signed.keys.org_id or (organization.id if organization else None)
        if organization is None and org_id:
            organization = Organization(id=org_id, name=org_id, slug=None)
        elif organization is not None and org_id and not organization.id:
            organization = Organization(
                id=org_id, name=organization.name, slug=organization.slug, env=organization.env
            )
        return FreshKeys(keys=signed.keys, organization=organization, checked=checked)


def replace_rejected_key(
    reauthenticator: Reauthenticator,
    rejected: RejectedKey,
    environ: Mapping[str, str],
    *,
    allow_org_change: bool,
) -> FreshKeys:
    """Signs in again, checks the organization, writes both new keys to `rejected.env_file`.

    Raises `OrganizationMismatch` (the new keys revoked, nothing written) when the new
    sign-in is for another organization than the rejected key's and that was not allowed,
    and `AtmnError` when the keys cannot be written (they are revoked too).
    """
    fresh = reauthenticator.sign_in(rejected)
    old = rejected.organization
    if not allow_org_change and old is not None:
        new = fresh.organization
        same = old.same_as(new) if new is not None else None
        if not same:
            undone = _revoke(rejected, fresh, environ)
            what = (
                f"could not be confirmed to be for {old.label()}"
                if same is None
                else f"is for {new.label() if new else '?'}, not {old.label()}"
            )
            raise OrganizationMismatch(
                f"the new sign-in {what} (the organization of the rejected key); {undone}, and "
                f"{rejected.env_file} was left as it was. Sign in to the same organization, or "
                "pass allow_org_change=True"
            )
    from atmn_auth.envfiles.writer import update_env_file

    try:
        update = update_env_file(
            rejected.env_file,
            set_values={SANDBOX_VAR: fresh.keys.sandbox_key, LIVE_VAR: fresh.keys.live_key},
            checked=fresh.checked,
        )
    except AtmnError as exc:
        undone = _revoke(rejected, fresh, environ)
        raise AtmnError(
            f"signed in again but could not save the new keys: {exc.message} ({undone})"
        ) from exc
    org = f" for {fresh.organization.label()}" if fresh.organization else ""
    reauthenticator.info(
        f"Signed in again{org}: new keys saved to {rejected.env_file}; retrying the request."
    )
    from atmn_auth.auth.login import old_keys

    for key in old_keys(update.previous_all, fresh.keys):  # the rejected key is dead
        if key != rejected.key:  # the server was not asked: it may work, it may not
            reauthenticator.info(
                f"Replaced {redact(key)}: kept, not revoked, so it may still work; once "
                f"nothing uses it, {rejected.settings.revoke_elsewhere(key)}"  # (a link)
            )
    return fresh


def _revoke(rejected: RejectedKey, fresh: FreshKeys, environ: Mapping[str, str]) -> str:
    """Revokes the new keys where the server can; says what became of them."""
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.api.session import Session

    with Session(environ) as session:
        gone = Autumn.of(rejected.settings, session).revoke_quietly(fresh.keys)
    return rejected.settings.minted_for_nothing(gone)


def recover_interactively(
    settings: Settings,
    cwd: Path,
    environ: Mapping[str, str],
    console: Console,
    session: Session,
) -> LoginResult | None:
    """Signs in again after a 401 on `settings.key_var`, when a person is at `console`:
    `atmn env`'s offer on a terminal.

    A login into the `.env` the rejected key came from (the nearest `.env` when none
    holds it): the person chooses the organization and what becomes of the keys it
    replaces. Returns None without doing anything when the console is not interactive,
    recovery is turned off (`ATMN_DISABLE_AUTH_RECOVERY`), or the key comes from the
    process environment (a new key in `.env` would stay shadowed by it). Login failures
    raise `AtmnError`.
    """
    if not console.interactive or recovery_disabled(environ):
        return None
    from atmn_auth.auth.login import LoginOptions, log_in
    from atmn_auth.envfiles.reader import find_env_file
    from atmn_auth.envfiles.resolution import resolve_key

    winner = resolve_key(settings.key_var, cwd=cwd, environ=environ).winner
    if winner is not None and (winner.source == "environment" or winner.path is None):
        return None
    target = winner.path if winner is not None and winner.path else find_env_file(cwd, environ)
    shown = redact(winner.value) if winner is not None else "(none)"
    console.info(
        f"Autumn rejected {settings.key_var} ({shown}) from {target} (401). "
        "Signing in again to replace the keys in that file…"
    )
    return log_in(
        settings,
        cwd=cwd,
        environ=environ,
        options=LoginOptions(env_file=target, force=True),
        console=console,
        session=session,
    )
