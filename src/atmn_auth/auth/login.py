"""The login: sign in (`signin`), write the keys to the nearest `.env`, and
settle the keys they replaced. Every input comes in as an argument.

Before anyone signs in, the file must be writable (`writer.ensure_writable`) and private
(`filemode.ensure_private`: on a terminal it offers `chmod 600`, elsewhere it refuses).
A Ctrl-C once the keys are written raises `Interrupted`, which says so: the new keys are
in the file, and the keys they replaced were kept (or which of them were revoked).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atmn_auth.api.autumn import Autumn, MintedKeys, Organization
from atmn_auth.api.metadata import KEY_REVOCATION
from atmn_auth.api.session import Session
from atmn_auth.auth.signin import SignInOptions, sign_in
from atmn_auth.errors import AlreadySignedIn, AtmnError, Interrupted
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR, key_kind, key_name, redact
from atmn_auth.settings import CALLBACK_PORTS, Settings
from atmn_auth.term.console import Console


@dataclass(frozen=True)
class LoginOptions:
    env_file: Path | None = None
    org: str | None = None
    open_browser: bool = True
    timeout: float = 300.0
    force: bool = False
    #: The keys the new ones replace in the file: True revokes them, False keeps them,
    #: None asks on a terminal and keeps them elsewhere (they may be in use elsewhere).
    revoke_replaced: bool | None = None
    #: `--device` / `--no-device` (see `SignInOptions.device`).
    device: bool | None = None


@dataclass(frozen=True)
class LoginResult:
    env_file: Path
    organization: Organization | None
    keys: MintedKeys
    created_file: bool
    #: Autumn keys the new ones replaced in the file, and what became of each:
    #: "revoked", "already_invalid", "unsupported", "failed", "kept" (as asked) or
    #: "kept: <why>" (this project still holds it; see `_settle_replaced`).
    replaced: dict[str, str] = field(default_factory=dict)
    #: Whether the server can revoke keys from the command line (§5 or §7).
    can_revoke: bool = True


def log_in(
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    options: LoginOptions,
    console: Console,
    session: Session,
    ports: Sequence[int] = CALLBACK_PORTS,
    clock: Callable[[], float] = time.monotonic,
) -> LoginResult:
    """Signs in and writes both keys to `options.env_file` or the nearest `.env`, with
    `session` for every request. `atmn login` (`commands.login`) and the recovery of a
    rejected key (`recovery`) both end here."""
    from atmn_auth.auth.filemode import ensure_private
    from atmn_auth.envfiles import reader, writer

    target = options.env_file
    if target is None:
        target = reader.key_file(cwd, environ, (SANDBOX_VAR, LIVE_VAR))
    writer.ensure_writable(target)
    checked = ensure_private(target, console, environ)
    autumn = Autumn.of(settings, session)
    agreed = not options.force and _check_existing_key(autumn, settings, target, console)
    if agreed and options.revoke_replaced is None:  # one question: it covers the old keys
        options = dataclasses.replace(options, revoke_replaced=True)

    signed = sign_in(
        settings,
        session,
        console,
        environ=environ,
        options=SignInOptions(
            org=options.org,
            open_browser=options.open_browser,
            timeout=options.timeout,
            device=options.device,
            key_name=key_name(target),
        ),
        ports=ports,
        clock=clock,
    )
    keys = signed.keys
    autumn = Autumn.of(settings, session, extensions=signed.extensions)
    try:
        update = writer.update_env_file(
            target,
            set_values={SANDBOX_VAR: keys.sandbox_key, LIVE_VAR: keys.live_key},
            checked=checked,
        )
    except AtmnError as exc:
        signed.revoked.result()
        gone = autumn.revoke_quietly(keys)
        raise AtmnError(f"{exc.message} ({settings.minted_for_nothing(gone)})") from None
    console.debug(f".env written {1000 * (clock() - signed.received_at):.1f} ms after the callback")
    outcome: dict[str, str] = {}
    try:
        signed.revoked.result()  # before the next request: one connection, one request at a time
        organization = signed.organization or autumn.organization_of(keys.sandbox_key)
        replaced = _settle_replaced(
            autumn, update.previous_all, keys, options, console, outcome, cwd=cwd, environ=environ
        )
    except KeyboardInterrupt:
        raise Interrupted(
            _interrupted_after_write(
                update.path, old_keys(update.previous_all, keys), outcome, settings
            )
        ) from None
    return LoginResult(
        env_file=update.path,
        organization=organization,
        keys=keys,
        created_file=update.created,
        replaced=replaced,
        can_revoke=autumn.offers(KEY_REVOCATION),
    )


def old_keys(previous: Mapping[str, list[str]], keys: MintedKeys) -> list[str]:
    """The Autumn keys the new ones replaced in the file, each once."""
    new = set(keys.all())
    return list(
        dict.fromkeys(
            value
            for values in previous.values()
            for value in values
            if key_kind(value) is not None and value not in new
        )
    )


def _interrupted_after_write(
    path: Path, old: list[str], outcome: Mapping[str, str], settings: Settings
) -> str:
    """What a Ctrl-C after the write leaves: the new keys in the file, and each old key
    revoked or kept (with how to revoke it)."""
    said = f"the new keys are in {path}"
    revoked = [key for key in old if outcome.get(key) in ("revoked", "already_invalid")]
    kept = [key for key in old if key not in revoked]
    if revoked:
        said += f"; revoked {', '.join(redact(key) for key in revoked)}"
    if kept:
        how = "; ".join(f"{redact(key)}: {settings.revoke_elsewhere(key)}" for key in kept)
        which = "the keys they replaced were kept" if not revoked else "the others were kept"
        said += f"; {which} ({how})"
    return said


def _settle_replaced(
    autumn: Autumn,
    previous: Mapping[str, list[str]],
    keys: MintedKeys,
    options: LoginOptions,
    console: Console,
    outcome: dict[str, str] | None = None,
    *,
    cwd: Path,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Revokes (or keeps, as asked) the Autumn keys the new ones replaced in the file,
    filling `outcome` as it goes (so a Ctrl-C can say what was done).

    A key left in no file but alive on the server is how keys leak; one copied into a
    deployment is still needed. So: revoke when told to, ask on a terminal, keep otherwise.
    One this project still holds somewhere (another variable, the `.env.local` beside the
    file, a farther `.env`, the process environment) is kept whatever was asked, as
    `keys rotate` does: "kept: still used by …".
    """
    from atmn_auth.envfiles.uses import kept_because

    outcome = {} if outcome is None else outcome
    old = []
    for key in old_keys(previous, keys):
        held = kept_because(key, cwd=cwd, environ=environ)
        if held is None:
            old.append(key)
        else:
            outcome[key] = held
    if not old:
        return _dead_said(autumn, outcome)
    revoke = options.revoke_replaced
    if not autumn.offers(KEY_REVOCATION):  # hosted Autumn: said with the result, once
        outcome.update(dict.fromkeys(old, "unsupported"))
        return _dead_said(autumn, outcome)
    prompter = console.asks
    if revoke is None and prompter is not None:
        shown = ", ".join(redact(key) for key in old)
        revoke = prompter.confirm(
            f"Revoke the keys this replaced ({shown})? Say no if they are used elsewhere.",
            True,
        )
    for key in old:
        if not revoke:
            outcome[key] = "kept"
            continue
        try:
            outcome[key] = autumn.revoke_key(key, timeout=5.0)
        except AtmnError:
            outcome[key] = "failed"
    return _dead_said(autumn, outcome)


def _dead_said(autumn: Autumn, outcome: dict[str, str]) -> dict[str, str]:
    """A key the server cannot revoke is said to work only once the server accepted it:
    one it rejects (deleted in the dashboard meanwhile) is "already_invalid"."""
    kept = [key for key, fate in outcome.items() if fate == "unsupported"]
    for key, works in (autumn.which_work(kept) if kept else {}).items():
        if works is False:
            outcome[key] = "already_invalid"
    return outcome


def _check_existing_key(autumn: Autumn, settings: Settings, target: Path, console: Console) -> bool:
    """Says when `target` already holds a key the server accepts; on a terminal asks
    once whether to sign in again and revoke the old keys. True when that was agreed."""
    from atmn_auth.envfiles.reader import read_keys

    try:
        current = read_keys(target, (settings.key_var,)).get(settings.key_var)
    except AtmnError:
        return False
    if not current or key_kind(current) != settings.kind:
        return False
    info = autumn.organization_of(current)
    if info is None:
        return False
    console.info(
        f"{settings.key_var} in {target} ({redact(current)}) already works for {info.label()}."
    )
    prompter = console.asks
    if prompter is None:
        return False
    question = "Sign in again, and revoke the keys it replaces?"
    if not autumn.offers(KEY_REVOCATION):
        question = (
            "Sign in again? This server cannot revoke keys from the command line: the keys "
            "it replaces keep working until you delete them in the dashboard."
        )
    if not prompter.confirm(question, False):
        raise AlreadySignedIn("kept the keys you have; nothing was changed")
    return True
