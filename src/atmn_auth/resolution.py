"""Which value of a key variable is in force, and every other place that defines it.

The rule, used by `atmn env`, the HTTP client and documented in the README:

1. the process environment, when the variable is set there (even to an empty value:
   python-dotenv and Node's dotenv never override a variable that is already set);
2. otherwise the nearest `.env`: the current directory's, else the first found going up
   through the parent directories (the file `atmn login` writes to).

Nothing else wins. Other definitions are still listed, because they mislead people:
a `.env.local` beside that `.env` (Next.js and Vite load it over `.env`, so the app may
use it where `atmn` does not), and `.env` files farther up, which are never read once a
nearer `.env` exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from atmn_auth import envfile
from atmn_auth.redact import redact

Source = Literal["environment", "env.local", "dotenv"]
ENV_LOCAL = ".env.local"


@dataclass(frozen=True)
class Definition:
    """One place that defines the variable. `path` is None for the process environment."""

    source: Source
    path: Path | None
    value: str

    def where(self) -> str:
        return "the process environment" if self.path is None else str(self.path)

    def __repr__(self) -> str:
        return f"Definition({self.source!r}, {self.path!r}, {redact(self.value)!r})"


@dataclass(frozen=True)
class Resolution:
    """The value in force (`winner`), and every definition (the winner among them).

    `env_file` is the nearest `.env` (or `cwd/.env` when there is none, or the file
    given explicitly): the one `atmn login` writes and `atmn logout` edits.
    """

    var: str
    value: str | None
    winner: Definition | None
    definitions: list[Definition] = field(default_factory=list)
    env_file: Path | None = None

    @property
    def shadowed(self) -> list[Definition]:
        """Every definition but the winner: the ones the rule does not use."""
        return [d for d in self.definitions if d is not self.winner]

    def __repr__(self) -> str:
        return (
            f"Resolution({self.var!r}, {redact(self.value)!r}, winner={self.winner!r}, "
            f"definitions={self.definitions!r}, env_file={self.env_file!r})"
        )


def resolve_key(
    var: str,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    env_file: Path | None = None,
) -> Resolution:
    """Applies the rule above to `var`, reading `.env` files from `cwd` upwards.

    With `env_file`, that file plays the part of the nearest `.env` (and the `.env`
    files above `cwd` are not looked at). Raises `EnvFileError` when the nearest
    `.env` cannot be read (a directory, a FIFO, no permission); farther ones that
    cannot be read are skipped, since they are not used anyway.
    """
    cwd = Path(os.path.abspath(cwd))
    if env_file is not None:
        nearest = Path(os.path.abspath(env_file))
        dotenvs = [nearest] if os.path.lexists(nearest) else []
    else:
        nearest = envfile.find_env_file(cwd)
        dotenvs = envfile.env_files_upward(cwd)

    definitions: list[Definition] = []
    if var in environ:
        definitions.append(Definition("environment", None, environ[var]))

    local = nearest.parent / ENV_LOCAL
    local_value = _value_in(local, var, strict=False)
    if local_value is not None:
        definitions.append(Definition("env.local", local, local_value))

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
    winner = winner or nearest_definition
    return Resolution(
        var=var,
        value=winner.value if winner else None,
        winner=winner,
        definitions=definitions,
        env_file=nearest,
    )


def written_file(resolution: Resolution) -> Path:
    """The `.env` that `atmn login` writes to for this resolution: the nearest `.env`."""
    if resolution.env_file is None:
        raise ValueError("resolution has no env_file")
    return resolution.env_file


def _value_in(path: Path, var: str, *, strict: bool) -> str | None:
    if not os.path.lexists(path):
        return None
    try:
        return envfile.read_env(path).get(var)
    except envfile.EnvFileError:
        if strict:
            raise
        return None
