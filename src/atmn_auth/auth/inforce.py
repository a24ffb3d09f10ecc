"""What every `atmn keys` command (and `atmn env`) shares: the key in force that
authorizes the §7 calls, the keys of this project's `.env`, the list of the organization's
keys, revoking one key by whatever the server offers, and the age past which a key should
be rotated.

The keys listed are those of the organization and environment of the key in force
(contract §7), found by the one resolution rule (`envfiles.resolution.resolve_key`), as
`atmn env` finds it: `-p` lists the live keys. The server never sends a key itself, only
its last 4 characters; a listed key "is" a key of this project when its environment and
last 4 characters match.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from atmn_auth.errors import AtmnError, InvalidKey, UsageError
from atmn_auth.keyformat import KEY_VARS, PREFIXES, key_kind, redact

if TYPE_CHECKING:
    from atmn_auth.api.autumn import Autumn, ListedKey
    from atmn_auth.envfiles.resolution import Resolution
    from atmn_auth.settings import Settings

MAX_AGE_VAR = "ATMN_KEY_MAX_AGE_DAYS"
DEFAULT_MAX_AGE_DAYS = 90.0


# ---------------------------------------------------------------------------- the server


def not_offered(settings: Settings) -> AtmnError:
    """The one line every `atmn keys` command says to a server without §7 (exit 1): hosted
    Autumn lists, names and deletes keys only in its dashboard."""
    if settings.local:
        elsewhere = "use `autumn-local keys list` and `autumn-local keys revoke`"
    else:
        elsewhere = f"manage them in the Autumn dashboard: {settings.keys_page(settings.kind)}"
    return AtmnError(
        f"{settings.backend_url} does not offer listing, naming or revoking keys from the "
        f"command line (`atmn keys`); {elsewhere}"
    )


# ---------------------------------------------------------------------------- the key in force


@dataclass(frozen=True)
class KeyInForce:
    """The key the resolution rule picks for `settings.key_var` (well formed, of the right
    kind), where it comes from, and what this project's `.env` holds."""

    settings: Settings
    resolution: Resolution
    key: str
    #: This project's `.env` (the nearest one, which `atmn login` writes), and the Autumn
    #: keys it holds by variable.
    env_file: Path | None
    in_file: dict[str, str]

    def __repr__(self) -> str:  # never the key whole, even in a traceback
        return (
            f"KeyInForce({self.settings.key_var}={redact(self.key)!r}, env_file={self.env_file!r})"
        )

    @property
    def var(self) -> str:
        return self.settings.key_var

    def where(self) -> str:
        winner = self.resolution.winner
        return winner.where() if winner is not None else "nowhere"

    @property
    def from_dotenv(self) -> Path | None:
        """The `.env` the key in force comes from (None: the process environment)."""
        winner = self.resolution.winner
        return winner.path if winner is not None and winner.source == "dotenv" else None

    def rejected(self, exc: InvalidKey) -> AtmnError:
        return AtmnError(
            f"the server rejected {self.var} ({redact(self.key)}, from {self.where()}): it is "
            f"unknown or revoked; run `{self.settings.login_command()}` for new keys"
        )


def offered_key_in_force(
    autumn: Autumn, settings: Settings, *, cwd: Path, environ: Mapping[str, str]
) -> KeyInForce:
    """`key_in_force` for an `atmn keys` command: where there is none, a server that does
    not offer the command at all says so first (signing in would not help there)."""
    from atmn_auth.api.metadata import KEY_LISTING

    try:
        return key_in_force(settings, cwd=cwd, environ=environ)
    except AtmnError:
        if not autumn.offers(KEY_LISTING):
            raise not_offered(settings) from None
        raise


def key_in_force(settings: Settings, *, cwd: Path, environ: Mapping[str, str]) -> KeyInForce:
    """The key in force for `settings`, or a one-line error (exit 1) saying why none is."""
    from atmn_auth.envfiles.reader import read_env
    from atmn_auth.envfiles.resolution import resolve_key

    var = settings.key_var
    resolution = resolve_key(var, cwd=cwd, environ=environ)
    value, winner = resolution.value, resolution.winner
    login = settings.login_command()
    if not value or winner is None:
        nearest = resolution.env_file or "any .env"
        raise AtmnError(
            f"no key to ask the server with: {var} is not set in the process environment nor "
            f"in {nearest}; run `{login}` first"
        )
    kind = key_kind(value)
    if kind != settings.kind:
        held = f"a {kind} key" if kind else "no Autumn secret key"
        raise AtmnError(
            f"{var} in {winner.where()} holds {held}, not a {settings.kind} key "
            f"({PREFIXES[settings.kind]}…); `{settings.command('env')}` says more"
        )
    in_file: dict[str, str] = {}
    env_file = resolution.env_file
    if env_file is not None and os.path.lexists(env_file):
        try:
            values = read_env(env_file)
        except AtmnError:
            values = {}
        for name in KEY_VARS.values():
            held_value = values.get(name)
            if held_value and key_kind(held_value) is not None:
                in_file[name] = held_value
    return KeyInForce(settings, resolution, value, env_file, in_file)


def listed_keys(autumn: Autumn, force: KeyInForce) -> list[ListedKey]:
    """§7's list for the key in force, newest first; the server without §7, or one that
    rejects the key, is a one-line error (exit 1)."""
    try:
        listed = autumn.list_keys(force.key)
    except InvalidKey as exc:
        raise force.rejected(exc) from None
    if listed is None:
        raise not_offered(force.settings)
    return newest_first(listed)


def newest_first(listed: list[ListedKey]) -> list[ListedKey]:
    """Newest first; keys whose creation time is not known come last."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(listed, key=lambda k: k.created_at or oldest, reverse=True)


def revoke_one(autumn: Autumn, key: str) -> str:
    """Revokes `key` itself: with §5 (`DELETE /cli/api-keys/current`), else with §7 (its id,
    found with the key's own listing). Returns "revoked", "already_invalid", "unsupported",
    or "failed: <why>"; never raises for the server's sake."""
    try:
        outcome = autumn.revoke_key(key, timeout=5.0)
        if outcome != "unsupported":
            return outcome
        listed = autumn.list_keys(key, timeout=5.0)
        if listed is None:
            return "unsupported"
        mine = [entry for entry in listed if entry.is_key(key)]
        if len(mine) != 1:
            return "failed: the server's list of keys does not tell which one it is"
        done = autumn.revoke_key_by_id(key, mine[0].id, timeout=5.0)
        return "revoked" if done == "revoked" else "already_invalid"
    except InvalidKey:
        return "already_invalid"
    except AtmnError as exc:
        return f"failed: {exc.message}"


# ---------------------------------------------------------------------------- ages


def max_age_days(environ: Mapping[str, str]) -> float:
    """`ATMN_KEY_MAX_AGE_DAYS` (default 90): past it, `atmn env` suggests a rotation."""
    raw = environ.get(MAX_AGE_VAR, "").strip()
    if not raw:
        return DEFAULT_MAX_AGE_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not (0 <= days < float("inf")):
        raise UsageError(f"{MAX_AGE_VAR} must be a number of days (0 or more), not {raw!r}")
    return days
