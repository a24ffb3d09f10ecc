"""Finding and reading a project's `.env`: the nearest one walking up from a directory
that is yours or that you trust (`trust`), read the way python-dotenv reads it, never
blocking on a FIFO or a device.

Readers that need only a few variables (the two keys: `atmn env`, login's checks,
logout, `AutumnClient`, all through `resolution`) call `read_keys`, which finds them
without parsing the rest of the file (`grammar.key_bindings`): a 100,000-line `.env`
costs about what a 100-line one does. `read_env` reads everything, as `dotenv_values`.

Values are exactly python-dotenv's, interpolation included: a `${NAME}` in a value is
NAME's earlier value in the file, else the process environment's (`os.environ`), else
the default after `:-`, else empty. An Autumn key never holds `$`; a file whose key
variable does is read whole (still in linear time) to get that right.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from atmn_auth.envfiles import trust
from atmn_auth.errors import EnvFileError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable, Mapping

ENV_FILENAME = ".env"
#: Read before `.env` in the same directory, by the official CLI and by frameworks
#: (Next.js, Vite), and so by atmn.
ENV_LOCAL_FILENAME = ".env.local"


# ---------------------------------------------------------------------------- finding


def find_env_file(start: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The nearest `.env` in `start` or a parent directory that is yours (see `trust`:
    others are skipped with a warning; `environ`, by default `os.environ`, may trust
    more); `start / ".env"` when there is none.

    A `.env` that exists but is not a regular file (a directory, a FIFO) still counts
    as the nearest one, so that the user hears about it instead of a farther file
    being used behind their back.
    """
    start = Path(os.path.abspath(start))
    found = search(start, environ, first=True).found
    return found[0] if found else start / ENV_FILENAME


def key_file(start: Path, environ: Mapping[str, str] | None, names: Iterable[str]) -> Path:
    """The file the keys `names` are written to: the `.env.local` beside the nearest
    `.env` when it holds one of them (it is read first), else that `.env` (or
    `start / ".env"`). A `.env.local` that is not yours is never written to."""
    nearest = find_env_file(start, environ)
    local = nearest.parent / ENV_LOCAL_FILENAME
    if not os.path.lexists(local) or not trust.trusted(local, trust.policy(environ)):
        return nearest
    try:
        held = read_keys(local, names)
    except EnvFileError:
        return nearest
    return local if any(value is not None for value in held.values()) else nearest


class Search:
    """What the walk up from a directory found: the `.env` files it uses (`found`,
    nearest first) and the ones it skipped as not yours (`skipped`, nearest first)."""

    __slots__ = ("found", "skipped")

    def __init__(self, found: list[Path], skipped: list[trust.Skipped]) -> None:
        self.found = found
        self.skipped = skipped


def search(
    start: Path,
    environ: Mapping[str, str] | None = None,
    *,
    first: bool = False,
    announce: bool = True,
) -> Search:
    """Walks up from the absolute directory `start` (to the first `.env` used, with
    `first`). Each skipped file is said once per process through `trust.warn`, unless
    `announce` is false (the caller shows `skipped` itself)."""
    rule = trust.policy(environ)
    found: list[Path] = []
    skipped: list[trust.Skipped] = []
    directory = str(start)
    while True:  # on strings: pathlib costs more than the walk itself, 40 levels deep
        candidate = os.path.join(directory, ENV_FILENAME)
        if os.path.lexists(candidate):
            passed = trust.check(Path(candidate), rule, announce=announce)
            if passed is not None:
                skipped.append(passed)
            else:
                found.append(Path(candidate))
                if first:
                    break
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return Search(found, skipped)


# ---------------------------------------------------------------------------- reading


def read_env(path: Path) -> dict[str, str | None]:
    """The variables python-dotenv reads from `path`; `{}` when it does not exist."""
    text = read_text(path)
    if text is None:
        return {}
    return parse_env(text)


def read_keys(path: Path, names: Iterable[str]) -> dict[str, str | None]:
    """What python-dotenv reads from `path` for `names` (those it defines; None for a
    name without `=`); `{}` when the file does not exist. One pass over the file; an
    ASCII file (the usual kind) is searched as bytes, without decoding all of it."""
    data = read_bytes(path)
    if data is None:
        return {}
    if data.isascii():
        return parse_keys(data, names)
    return parse_keys(_decode(path, data), names)


def parse_keys(text: str | bytes, names: Iterable[str]) -> dict[str, str | None]:
    """`parse_env(text)` restricted to `names`, without parsing the rest of `text` (a
    str, or the bytes of an ASCII-only file)."""
    from atmn_auth.envfiles import grammar

    names = tuple(names)
    if isinstance(text, bytes):
        body: str | bytes = text
        if not any(name.encode() in text for name in names):
            return {}
    else:
        body = text.removeprefix("\ufeff")
        if not any(name in body for name in names):
            return {}
    values: dict[str, str | None] = {}
    for found in grammar.key_bindings(body, names):
        assert found.key is not None
        values[found.key] = found.value
    if any(grammar.uses_variables(value) for value in values.values()):
        if isinstance(text, bytes):
            text = text.decode("ascii")
        every = grammar.parse_all(text)  # what interpolation needs: the earlier values
        return {name: every[name] for name in names if name in every}
    return values


def parse_env(text: str) -> dict[str, str | None]:
    """What python-dotenv's `dotenv_values` reads from `text`.

    Files made only of blank lines, comments and plain `[export ]NAME=value` lines (the
    common case) are read here, in one pass; anything else (quotes, `$`, `#`, `\\` or
    other characters python-dotenv treats specially, other line ends, a line without
    `=`) goes through `grammar.parse_all`, python-dotenv's grammar and interpolation
    in linear time. tests/startup/test_reader_equivalence.py checks that both agree
    with python-dotenv.
    """
    values = parse_simple(text)
    if values is not None:
        return values
    from atmn_auth.envfiles import grammar

    return grammar.parse_all(text)


#: Characters that make a file not simple: quotes, escapes and interpolation, line ends
#: other than `\n`, and whitespace other than space, tab and newline (python-dotenv's
#: patterns use `\s`, which matches them).
_NOT_SIMPLE = re.compile(r"[\"'\\$\r]|[^\S \t\n]")
#: A blank line, a comment, or `[export ]NAME=value` with no `#` in the value.
_SIMPLE_LINE = re.compile(
    r"[ \t]*(?:(?:#.*)?|(?:export[ \t]+)?+([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
    r"([^\s#]*(?:[ \t]+[^\s#]+)*)[ \t]*)"
)


def parse_simple(text: str) -> dict[str, str | None] | None:
    """`text`'s variables when every line is simple (see `parse_env`), else None."""
    if _NOT_SIMPLE.search(text):
        return None
    values: dict[str, str | None] = {}
    match = _SIMPLE_LINE.fullmatch
    for line in text.split("\n"):
        found = match(line)
        if found is None:
            return None
        name, value = found.groups()
        if name is not None:
            values[name] = value
    return values


def read_text(path: Path) -> str | None:
    """The file's text, or None when missing. Never blocks on a FIFO or a device."""
    data = read_bytes(path)
    return None if data is None else _decode(path, data)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvFileError(
            f"{path} is not UTF-8 text (byte {exc.start}); leaving it alone"
        ) from None


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when missing. Never blocks on a FIFO or a device."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise EnvFileError(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise EnvFileError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise EnvFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise EnvFileError(
                f"{path} is {_kind_of(st.st_mode)}, not a regular file; leaving it alone"
            )
        data = os.read(fd, st.st_size + 1)  # all of it at once (one copy of a big file)
        if len(data) > st.st_size:  # it grew meanwhile
            chunks = [data]
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            data = b"".join(chunks)
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return data


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"
