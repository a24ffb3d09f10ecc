"""Finding and reading a project's `.env`: the nearest one walking up from a directory,
read the way python-dotenv reads it, never blocking on a FIFO or a device."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from atmn_auth.errors import EnvFileError

ENV_FILENAME = ".env"


# ---------------------------------------------------------------------------- finding


def find_env_file(start: Path) -> Path:
    """The nearest `.env` in `start` or a parent directory; `start / ".env"` when none.

    A `.env` that exists but is not a regular file (a directory, a FIFO) still counts
    as the nearest one, so that the user hears about it instead of a farther file
    being used behind their back.
    """
    start = Path(os.path.abspath(start))
    for directory in (start, *start.parents):
        candidate = directory / ENV_FILENAME
        if os.path.lexists(candidate):
            return candidate
    return start / ENV_FILENAME


def env_files_upward(start: Path) -> list[Path]:
    """Every existing `.env` from `start` up to the root, nearest first."""
    start = Path(os.path.abspath(start))
    return [d / ENV_FILENAME for d in (start, *start.parents) if os.path.lexists(d / ENV_FILENAME)]


# ---------------------------------------------------------------------------- reading


def read_env(path: Path) -> dict[str, str | None]:
    """The variables python-dotenv reads from `path`; `{}` when it does not exist."""
    text = read_text(path)
    if text is None:
        return {}
    return parse_env(text)


def parse_env(text: str) -> dict[str, str | None]:
    """What python-dotenv's `dotenv_values` reads from `text`.

    Files made only of blank lines, comments and plain `[export ]NAME=value` lines (the
    common case) are read here, in one pass; anything else (quotes, `$`, `#`, `\\` or
    other characters python-dotenv treats specially, other line ends, a line without
    `=`) goes to python-dotenv itself. tests/startup/test_reader_equivalence.py checks
    that both agree.
    """
    values = parse_simple(text)
    if values is not None:
        return values
    import io

    from dotenv import dotenv_values

    parsed: dict[str, str | None] = dotenv_values(stream=io.StringIO(text))
    return parsed


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
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise EnvFileError(f"{path} is {_kind_of(mode)}, not a regular file; leaving it alone")
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvFileError(
            f"{path} is not UTF-8 text (byte {exc.start}); leaving it alone"
        ) from None


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
