"""`atmn keys rotate`: new keys in the `.env` the current ones come from, the old ones
revoked only once the new ones are known to work.

1. Before anyone signs in: the key in force must come from a `.env` (the one written),
   work (§4: its organization), and the server must offer §7; every other key the
   rotation would replace in the file must not be one the server accepts for another
   organization (the new pair is for one organization only); the file must be writable
   and private (`auth.filemode.ensure_private`, login's policy: `chmod 600` offered on a
   terminal, refused elsewhere).
2. Sign in as `atmn login` does, the consent page preselecting the organization of the
   old keys; mint a pair named as login names them.
3. Write both keys to that `.env` (one atomic rewrite, which keeps the file's bytes).
4. Check: the file reads back with the new keys, and the server accepts each, for the
   same organization, as the right kind (both asked at once).
5. Only then revoke every Autumn key the new ones replaced in the file, except one this
   project still holds somewhere (`envfiles.uses.uses_of`: under another variable, in the
   `.env.local` beside it, a farther `.env`, the process environment): that one is kept,
   and the report says where it is used.

A failure in 2 or 3 leaves the file as it was and the old keys working (keys minted for
nothing are revoked). A failure in 4 puts the file's old bytes back, exactly, if it
still holds what step 3 wrote, and then revokes the new keys; if something else changed
the file meanwhile, it is left alone and nothing is revoked (it may use the new keys),
and the error says what it holds. The old keys are never touched. Each failure says
which of these happened.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from atmn_auth.auth.dashboard import revoke_command, still_working, unrevocable
from atmn_auth.auth.inforce import not_offered, offered_key_in_force, revoke_one
from atmn_auth.errors import (
    AtmnError,
    BackendError,
    BackendUnreachable,
    Interrupted,
    InvalidKey,
    OrganizationMismatch,
)
from atmn_auth.keyformat import KEY_VARS, LIVE_VAR, SANDBOX_VAR, KeyKind, key_kind, key_name, redact
from atmn_auth.settings import CALLBACK_PORTS

if TYPE_CHECKING:
    from atmn_auth.api.autumn import Autumn, MintedKeys, Organization
    from atmn_auth.api.session import Session
    from atmn_auth.auth.inforce import KeyInForce
    from atmn_auth.auth.signin import SignInOptions
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.envfiles.writer import EnvUpdate
    from atmn_auth.settings import Settings
    from atmn_auth.term.console import Console

VARIABLES: tuple[str, str] = (SANDBOX_VAR, LIVE_VAR)


@dataclass(frozen=True)
class Rotated:
    env_file: Path
    organization: Organization
    keys: MintedKeys
    #: Each old key the new ones replaced, and what became of it: "revoked",
    #: "already_invalid", "unsupported", "failed: <why>", or "kept: <why>" (not revoked:
    #: this project still holds it somewhere, said in the why).
    replaced: dict[str, str] = field(default_factory=dict)
    #: The process environment also sets the variable, to the old key.
    shadowed_by_environment: bool = False

    def __repr__(self) -> str:
        old = {redact(key): fate for key, fate in self.replaced.items()}
        return f"Rotated(env_file={self.env_file!r}, keys={self.keys!r}, replaced={old!r})"


def run_rotate(
    inv: Invocation, options: SignInOptions, *, ports: Sequence[int] = CALLBACK_PORTS
) -> int:
    """`atmn keys rotate`: rotates, then prints what became of the keys. Exit code 0."""
    result = rotate_keys(inv, options, ports=ports)
    print_rotate_result(result, inv.settings, console=inv.console)
    return 0


def rotate_keys(
    inv: Invocation, options: SignInOptions, *, ports: Sequence[int] = CALLBACK_PORTS
) -> Rotated:
    """The rotation itself (the module's doc); raises `AtmnError` with the old keys kept
    whenever it cannot finish."""
    settings, cwd, environ = inv.settings, inv.cwd, inv.environ
    session, console = inv.session, inv.console
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.auth import pending
    from atmn_auth.auth.filemode import ensure_private
    from atmn_auth.envfiles import writer

    autumn = Autumn.of(settings, session)
    force = offered_key_in_force(autumn, settings, cwd=cwd, environ=environ)
    target = _target_file(force)
    writer.ensure_writable(target)
    checked = ensure_private(target, console)
    for line in pending.finish(autumn, settings, target, cwd=cwd, environ=environ):
        console.info(line)
    organization = _preflight(autumn, force, target)

    new = _sign_in(settings, session, console, environ, options, ports, target, organization)
    unchanged = f"{target} is unchanged and the keys in it still work"
    # if this process dies between the write and the old keys' revocation, the next
    # rotation here finishes the job (`auth.pending`)
    retiring = _old_keys(writer.replaced_values(target, VARIABLES), force.in_file.values(), new)
    pending.record(target, retiring, new, settings.backend_url, environ)
    try:
        update = writer.update_env_file(
            target,
            set_values={SANDBOX_VAR: new.sandbox_key, LIVE_VAR: new.live_key},
            checked=checked,
        )
    except AtmnError as exc:
        pending.clear(target, environ)
        undone = settings.minted_for_nothing(autumn.revoke_quietly(new), keys="the new keys")
        raise AtmnError(f"{exc.message}; {undone}; {unchanged}") from None

    try:
        problem = _check(autumn, target, new, organization)
    except KeyboardInterrupt:
        raise Interrupted(
            f"{target} holds the new keys, not yet checked; the old keys were not revoked "
            f"(the next `{settings.command('keys rotate')}` here revokes them)"
        ) from None
    if problem is not None:
        pending.clear(target, environ)  # the old keys are back, or nothing is revoked
        _undo(autumn, update, new, problem)

    replaced = {
        key: _retire(autumn, key, cwd=cwd, environ=environ)
        for key in _old_keys(update.previous_all, force.in_file.values(), new)
    }
    pending.clear(target, environ)
    winner = force.resolution.winner
    return Rotated(
        env_file=target,
        organization=organization,
        keys=new,
        replaced=replaced,
        shadowed_by_environment=winner is not None and winner.source == "environment",
    )


# ---------------------------------------------------------------------------- before


def _target_file(force: KeyInForce) -> Path:
    """The `.env` the key in force comes from (the process environment may hold the same
    key, loaded from it); a key only set in the process environment has no file."""
    nearest = force.env_file
    if force.from_dotenv is not None:
        return force.from_dotenv
    if nearest is not None and force.in_file.get(force.var) == force.key:
        return nearest
    raise AtmnError(
        f"{force.var} comes from the process environment, not from a .env, so there is no "
        "file to rotate its key in; `atmn keys create` mints a key to put where it is set"
    )


def _preflight(autumn: Autumn, force: KeyInForce, target: Path) -> Organization:
    """The old key's organization (§4), that the server offers §7, and that no other key
    the rotation replaces in `target` is for another organization: all asked at once."""
    from atmn_auth.envfiles.writer import replaced_values

    listing = autumn.session.submit(lambda: autumn.list_keys(force.key))
    held = [(var, v) for var, values in replaced_values(target, VARIABLES).items() for v in values]
    others = {
        value: var
        for var, value in [*held, *force.in_file.items()]
        if key_kind(value) is not None and value != force.key
    }
    asked = {key: autumn.session.submit(_asker(autumn, key)) for key in others}
    try:
        organization = autumn.organization_me(force.key)
    except InvalidKey:
        raise AtmnError(
            f"the server rejected {force.var} ({redact(force.key)}, from {force.where()}): "
            f"there is no working key to rotate; `{force.settings.login_command()}` writes "
            "new keys"
        ) from None
    try:
        listed = listing.result()
    except AtmnError:
        listed = []  # it answered §4 just now: let the sign-in find out the rest
    if listed is None:
        raise not_offered(force.settings)
    for key, answer in asked.items():
        var, shown = others[key], redact(key)
        try:
            found = answer.result()
        except InvalidKey:
            continue  # unknown or revoked: replacing it takes nothing from anyone
        except AtmnError as exc:
            raise AtmnError(
                f"could not ask the server which organization {var} in {target} ({shown}) is "
                f"for: {exc.message}; nothing was changed"
            ) from None
        if organization.same_as(found) is False:
            raise AtmnError(
                f"{var} in {target} ({shown}) is a key of {found.label()}, but {force.var} "
                f"({redact(force.key)}) is of {organization.label()}: a rotation mints keys "
                f"for {organization.label()} only and would revoke the key of "
                f"{found.label()}; nothing was changed. Keep each organization's keys in "
                "its own .env"
            )
    return organization


def _sign_in(
    settings: Settings,
    session: Session,
    console: Console,
    environ: Mapping[str, str],
    options: SignInOptions,
    ports: Sequence[int],
    target: Path,
    organization: Organization,
) -> MintedKeys:
    """A sign-in that mints a pair for `organization`; any failure says the old keys are
    untouched. New keys for another organization are revoked at once."""
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.auth.signin import sign_in

    try:
        signed = sign_in(
            settings,
            session,
            console,
            environ=environ,
            options=dataclasses.replace(
                options, hint=organization.id or organization.slug, key_name=key_name(target)
            ),
            ports=ports,
        )
    except AtmnError as exc:
        raise AtmnError(
            f"{exc.message}; nothing was changed: the keys in {target} still work",
            exit_code=exc.exit_code,
        ) from None
    signed.revoked.result()  # one request at a time on the session from here
    chosen = signed.organization
    if chosen is not None and organization.same_as(chosen) is False:
        gone = Autumn.of(settings, session, extensions=signed.extensions).revoke_quietly(
            signed.keys
        )
        undone = settings.minted_for_nothing(gone, keys="the new keys")
        raise OrganizationMismatch(_mismatch(chosen, organization, target, undone))
    return signed.keys


def _mismatch(chosen: Organization, organization: Organization, target: Path, undone: str) -> str:
    return (
        f"you approved {chosen.label()} in the browser, but the keys in {target} are for "
        f"{organization.label()}; {undone} and nothing was changed. Run it "
        f"again and choose {organization.label()} on the consent page"
    )


# ---------------------------------------------------------------------------- after


def _check(autumn: Autumn, target: Path, new: MintedKeys, organization: Organization) -> str | None:
    """Why the new keys do not work from `target`, or None when they do: the file must read
    back with them, and the server accept each, for `organization`, as the right kind.

    (The file, not the whole rule: a shell that exported the old key from this `.env` still
    holds it; the report says so, and `unset` fixes it.)"""
    from atmn_auth.envfiles.reader import read_env

    written = read_env(target)
    kinds: tuple[KeyKind, KeyKind] = ("sandbox", "live")
    for kind in kinds:
        if written.get(KEY_VARS[kind]) != new.of(kind):
            return f"{target} does not read back with the new {kind} key"
    asked = {kind: autumn.session.submit(_asker(autumn, new.of(kind))) for kind in kinds}
    for kind, answer in asked.items():
        shown = redact(new.of(kind))
        try:
            found = answer.result()
        except InvalidKey as exc:
            return f"it rejected the new {kind} key {shown} ({exc.message.split(': ', 1)[-1]})"
        except (BackendError, BackendUnreachable) as exc:
            return f"the new {kind} key {shown} could not be checked: {exc.message}"
        if organization.same_as(found) is False:
            return f"the new {kind} key {shown} is for {found.label()}, not {organization.label()}"
        if found.env is not None and found.env != kind:
            return f"the server says the new {kind} key {shown} is a {found.env} key"
    return None


def _asker(autumn: Autumn, key: str) -> Callable[[], Organization]:
    return lambda: autumn.organization_me(key)


def _undo(autumn: Autumn, update: EnvUpdate, new: MintedKeys, problem: str) -> NoReturn:
    """Puts the file's bytes from before the rotation back, if it still holds exactly what
    the rotation wrote, then revokes the new keys; raises the error that says so (the old
    keys were never revoked). A file something else changed meanwhile is left as it is,
    and then the new keys are not revoked either: the file may use them."""
    from atmn_auth.envfiles.writer import restore_env_file

    target = update.path
    failed = f"the new keys did not pass the check ({problem})"
    kept = "neither the new keys nor the old ones were revoked"
    old = [value for values in update.previous_all.values() for value in values]
    try:
        restored = update.written is None or restore_env_file(
            update.target, expected=update.written, original=update.original
        )
    except AtmnError as exc:
        raise AtmnError(
            f"{failed}, and putting the old keys back in {target} failed ({exc.message}): "
            f"{_holding(update.target, new, old)}; {kept}"
        ) from None
    if not restored:
        raise AtmnError(
            f"{failed}, and {target} was changed meanwhile by something else, so atmn left it "
            f"as it is: {_holding(update.target, new, old)}; {kept}"
        )
    gone = autumn.revoke_quietly(new)
    undone = "the new keys were revoked" if gone else "the new keys could not be revoked"
    raise AtmnError(f"{failed}: the old keys are back in {target} and still work; {undone}")


def _holding(path: Path, new: MintedKeys, old: Iterable[str]) -> str:
    """What `path` holds now for both variables, in words, keys redacted."""
    from atmn_auth.envfiles.reader import read_keys

    try:
        values = read_keys(path, VARIABLES) if os.path.lexists(path) else None
    except AtmnError as exc:
        return f"it cannot be read ({exc.message})"
    if values is None:
        return "it no longer exists"
    said = []
    for var in VARIABLES:
        value = values.get(var)
        if value is None:
            said.append(f"no {var}")
            continue
        if value in new.all():
            whose = "new"
        elif value in old:
            whose = "old"
        else:
            whose = "another key" if key_kind(value) else "not an Autumn key"
        said.append(f"{var}={redact(value)} ({whose})")
    return "it holds " + " and ".join(said)


# ---------------------------------------------------------------------------- the old keys


def _old_keys(
    previous_all: Mapping[str, list[str]], read: Iterable[str], new: MintedKeys
) -> list[str]:
    """Every Autumn key the new ones replaced in the file, each once, in file order: the
    values its definitions held, and what python-dotenv read from them (`read`: an
    `AUTUMN_SECRET_KEY=${OLD}` held `${OLD}`, and was read as OLD's key)."""
    held = [v for var in VARIABLES for v in previous_all.get(var, [])]
    return [
        value
        for value in dict.fromkeys([*held, *read])
        if key_kind(value) is not None and value not in new.all()
    ]


def _retire(autumn: Autumn, key: str, *, cwd: Path, environ: Mapping[str, str]) -> str:
    """Revokes an old key (`revoke_one`'s answer) unless this project still holds it
    somewhere: then "kept: <where>", and it is not revoked."""
    from atmn_auth.envfiles.uses import kept_because

    return kept_because(key, cwd=cwd, environ=environ) or revoke_one(autumn, key)


def print_rotate_result(result: Rotated, settings: Settings, *, console: Console) -> None:
    """What `atmn keys rotate` prints once the new keys work and the old ones are settled:
    the file and the new keys on stdout, an old key that still works as a warning."""
    console.ok(f"Rotated the keys in {result.env_file} for {result.organization.label()}.")
    console.result(f"  {SANDBOX_VAR:<24} {redact(result.keys.sandbox_key)}  (sandbox)")
    console.result(f"  {LIVE_VAR:<24} {redact(result.keys.live_key)}  (live)")
    for key, fate in result.replaced.items():
        shown, elsewhere = redact(key), settings.revoke_elsewhere(key)
        if fate == "revoked":
            console.result(f"Revoked the old key {shown}.")
        elif fate == "already_invalid":
            console.result(f"The old key {shown} was already revoked.")
        elif fate == "unsupported":
            continue
        elif fate.startswith("kept: "):
            console.warn(
                f"Warning: kept the old key {shown}, {fate.removeprefix('kept: ')}; revoke it "
                f"once nothing uses it: `{revoke_command(key, settings)}`."
            )
        else:
            why = fate.removeprefix("failed: ")
            console.warn(
                f"Warning: could not revoke the old key {shown} ({why}); it still works: "
                f"{elsewhere}."
            )
    for i, line in enumerate(still_working(settings, unrevocable(result.replaced), "the old keys")):
        console.warn(f"Warning: {line}" if i == 0 else line)
    if result.shadowed_by_environment:
        console.warn(
            f"Warning: {settings.key_var} is also set in the process environment, which wins "
            f"over {result.env_file}: run `unset {settings.key_var}` to use the new key."
        )
