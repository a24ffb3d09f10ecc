"""Which value of a key variable is in force, and every other place that defines it.

The rule, used by `atmn env`, the HTTP client and documented in the README:

1. the process environment, when the variable is set there (even to an empty value:
   python-dotenv and Node's dotenv never override a variable that is already set);
2. otherwise the `.env.local` beside the nearest `.env`, when it sets the variable (the
   official CLI, Next.js and Vite read it before `.env`);
3. otherwise the nearest `.env`: the current directory's, else the first found going up
   through the parent directories (the file `atmn login` writes to, unless the
   `.env.local` holds the keys). Only files that are yours count (`envfiles.trust`): one
   another user owns, or that sits in a directory another user owns, is skipped with a
   warning naming it, unless its directory is listed in `ATMN_SAFE_DIRECTORIES` (read
   from `environ`).

Nothing else wins. Other definitions are still listed, because they mislead people:
`.env` files farther up are never read once a nearer `.env` exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from atmn_auth.envfiles.reader import ENV_FILENAME, ENV_LOCAL_FILENAME, read_keys, search
from atmn_auth.errors import EnvFileError
from atmn_auth.keyformat import redact
from atmn_auth.records import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import Literal

    from atmn_auth.envfiles.trust import Skipped

    Source = Literal["environment", "env.local", "dotenv"]
    Role = Literal["environment", "env.local", "nearer", "farther"]

ENV_LOCAL = ENV_LOCAL_FILENAME

# The classes below are plain classes, not dataclasses: `atmn env --offline` should not
# pay for importing `dataclasses` (and `inspect`) at start-up. They compare and hash by
# their fields, and cannot be changed once made, as frozen dataclasses would.


class Definition(Frozen):
    """One place that defines the variable. `path` is None for the process environment."""

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("source", "path", "value")
    __slots__ = _FIELDS
    source: Source
    path: Path | None
    value: str

    def __init__(self, source: Source, path: Path | None, value: str) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "value", value)

    def where(self) -> str:
        return "the process environment" if self.path is None else str(self.path)

    def __repr__(self) -> str:
        return f"Definition({self.source!r}, {self.path!r}, {redact(self.value)!r})"


class Resolution(Frozen):
    """The value in force (`winner`), and every definition (the winner among them).

    `env_file` is the nearest `.env` (or `cwd/.env` when there is none, or the file
    given explicitly): the one `atmn login` writes and `atmn logout` edits. `skipped`:
    the `.env` files the search passed over as not yours (`envfiles.trust`), nearest
    first.
    """

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("var", "value", "winner", "definitions", "env_file", "skipped")
    __slots__ = _FIELDS
    var: str
    value: str | None
    winner: Definition | None
    definitions: list[Definition]
    env_file: Path | None
    skipped: tuple[Skipped, ...]

    def __init__(
        self,
        var: str,
        value: str | None,
        winner: Definition | None,
        definitions: list[Definition] | None = None,
        env_file: Path | None = None,
        skipped: tuple[Skipped, ...] = (),
    ) -> None:
        object.__setattr__(self, "var", var)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "winner", winner)
        object.__setattr__(self, "definitions", [] if definitions is None else definitions)
        object.__setattr__(self, "env_file", env_file)
        object.__setattr__(self, "skipped", skipped)

    __hash__ = None  # type: ignore[assignment]  # `definitions` is a list

    @property
    def shadowed(self) -> list[Definition]:
        """Every definition but the winner: the ones the rule does not use."""
        return [d for d in self.definitions if d is not self.winner]

    def __repr__(self) -> str:
        return (
            f"Resolution({self.var!r}, {redact(self.value)!r}, winner={self.winner!r}, "
            f"definitions={self.definitions!r}, env_file={self.env_file!r}, "
            f"skipped={self.skipped!r})"
        )


def resolve_key(
    var: str,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    env_file: Path | None = None,
    announce: bool = True,
) -> Resolution:
    """Applies the rule above to `var`, reading `.env` files from `cwd` upwards.

    With `env_file`, that file plays the part of the nearest `.env` (and the `.env`
    files above `cwd` are not looked at). Raises `EnvFileError` when the nearest
    `.env` cannot be read (a directory, a FIFO, no permission); farther ones that
    cannot be read are skipped, since they are not used anyway. A `.env` skipped as not
    yours is said on standard error (`trust.warn`, once per process) unless `announce`
    is false; either way it is in `skipped`.
    """
    cwd = Path(os.path.abspath(cwd))
    skipped: tuple[Skipped, ...] = ()
    if env_file is not None:
        nearest = Path(os.path.abspath(env_file))
        dotenvs = [nearest] if os.path.lexists(nearest) else []
    else:
        walk = search(cwd, environ, announce=announce)
        dotenvs, skipped = walk.found, tuple(walk.skipped)
        nearest = dotenvs[0] if dotenvs else cwd / ENV_FILENAME

    definitions: list[Definition] = []
    if var in environ:
        definitions.append(Definition("environment", None, environ[var]))

    local = nearest.parent / ENV_LOCAL
    local_value = _value_in(local, var, strict=False)
    local_definition: Definition | None = None
    if local_value is not None:
        local_definition = Definition("env.local", local, local_value)
        definitions.append(local_definition)
        if env_file is not None or not _trusted(local, environ):
            local_definition = None  # listed, never used: the file named wins, or not yours

    nearest_definition: Definition | None = None
    for path in dotenvs:
        value = _value_in(path, var, strict=path == nearest)
        if value is None:
            continue
        definition = Definition("dotenv", path, value)
        if path == nearest:
            nearest_definition = definition
        definitions.append(definition)

    winner = definitions[0] if definitions and definitions[0].source == "environment" else None
    winner = winner or local_definition or nearest_definition
    return Resolution(
        var=var,
        value=winner.value if winner else None,
        winner=winner,
        definitions=definitions,
        env_file=nearest,
        skipped=skipped,
    )


class Shadow(Frozen):
    """A definition of the variable outside the file in question, and why it matters:

    - "environment": the process environment wins over any `.env`;
    - "env.local": Next.js, Vite and others load `.env.local` over `.env`;
    - "nearer": a `.env` nearer the current directory wins over the file;
    - "farther": a `.env` farther up is never read while the file exists.
    """

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("definition", "role")
    __slots__ = _FIELDS
    definition: Definition
    role: Role

    def __init__(self, definition: Definition, role: Role) -> None:
        object.__setattr__(self, "definition", definition)
        object.__setattr__(self, "role", role)

    def __repr__(self) -> str:
        return f"Shadow(definition={self.definition!r}, role={self.role!r})"


def shadows(resolution: Resolution, file: Path, value: str | None = None) -> list[Shadow]:
    """The one shadowing check of login, env and logout: every definition of the variable
    outside `file` that does not hold `value`, with its role (see `Shadow`)."""
    found: list[Shadow] = []
    for d in resolution.definitions:
        if d.path == file or (value is not None and d.value == value):
            continue
        if d.source == "environment":
            found.append(Shadow(d, "environment"))
        elif d.source == "env.local":
            found.append(Shadow(d, "env.local"))
        else:  # a .env in a directory below `file`'s is nearer the current directory
            assert d.path is not None
            nearer = file.parent in d.path.parent.parents
            found.append(Shadow(d, "nearer" if nearer else "farther"))
    return found


def describe(shadow: Shadow, var: str, file: Path, *, still: bool = False) -> str:
    """One sentence for a shadowing definition; `still` after logout removed `var` from
    `file`, while the definition is left where it is."""
    d = shadow.definition
    shown = redact(d.value) if d.value else "(empty)"
    sets = "still sets" if still else "also sets"
    if shadow.role == "environment":
        set_, cannot = ("still set", "; atmn cannot change it") if still else ("also set", "")
        return (
            f"{var} is {set_} in the process environment ({shown}), which wins over {file}"
            f"{cannot}: run `unset {var}`."
        )
    if shadow.role == "env.local":
        return (
            f"{d.path} {sets} {var} ({shown}) and is read before {file} (by atmn, Next.js, "
            "Vite and the official CLI), so that one is used: remove it there."
        )
    if shadow.role == "nearer":
        return f"{d.path} {sets} {var} ({shown}) and is nearer than {file}: remove it there."
    if still:
        return (
            f"{d.path} still sets {var} ({shown}); logout only edits {file}: remove it there "
            "if you no longer want it."
        )
    return f"{d.path} also sets {var} ({shown}) but is not read: {file} is nearer."


def _trusted(path: Path, environ: Mapping[str, str]) -> bool:
    from atmn_auth.envfiles import trust

    return trust.untrusted_reason(path, trust.policy(environ)) is None


def _value_in(path: Path, var: str, *, strict: bool) -> str | None:
    if not os.path.lexists(path):
        return None
    try:
        return read_keys(path, (var,)).get(var)
    except EnvFileError:
        if strict:
            raise
        return None
