"""Which places of this project still hold a key: the process environment, the nearest
`.env` and the `.env.local` beside it, and the key variables of every `.env` farther up.

Every command that would revoke a key asks here first: a key still in use is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from atmn_auth.envfiles.reader import read_env
from atmn_auth.envfiles.resolution import ENV_LOCAL, resolve_key
from atmn_auth.errors import AtmnError, EnvFileError
from atmn_auth.keyformat import KEY_VARS


def kept_because(key: str, *, cwd: Path, environ: Mapping[str, str]) -> str | None:
    """Why an old key must not be revoked ("kept: still used by …"): this project still
    holds it somewhere (`uses_of`), or that cannot be told. None: nothing here uses it."""
    try:
        places = uses_of(lambda value: value == key, cwd=cwd, environ=environ)
    except AtmnError as exc:
        return f"kept: atmn could not tell whether this project still uses it ({exc.message})"
    return f"kept: still used by {' and '.join(places)}" if places else None


def uses_of(holds: Callable[[str], bool], *, cwd: Path, environ: Mapping[str, str]) -> list[str]:
    """Every place this project still holds a key `holds` accepts, in words
    (`BACKUP in /p/.env`, `AUTUMN_SECRET_KEY in the process environment`): any variable of
    the process environment, of the nearest `.env` and of the `.env.local` beside it, and
    the key variables of every `.env` farther up (what `resolve_key` and its shadowing
    check see). Raises `EnvFileError` when the nearest `.env` cannot be read."""
    places: list[str] = []

    def add(var: str, where: object) -> None:
        place = f"{var} in {where}"
        if place not in places:
            places.append(place)

    for var, value in environ.items():
        if holds(value):
            add(var, "the process environment")
    resolutions = [resolve_key(var, cwd=cwd, environ=environ) for var in KEY_VARS.values()]
    nearest = resolutions[0].env_file
    if nearest is not None:
        for path in (nearest, nearest.parent / ENV_LOCAL):
            try:
                values = read_env(path)
            except EnvFileError:
                if path == nearest:
                    raise
                continue  # as the rule does: an unreadable .env.local is not read
            for var, held in values.items():
                if held and holds(held):
                    add(var, path)
    for resolution in resolutions:
        for definition in resolution.definitions:
            if definition.path is not None and holds(definition.value):
                add(resolution.var, definition.path)
    return places
