"""Reading and updating a project's `.env` without disturbing anything else in it.

`update_env_file` rewrites the file in one atomic step (temporary file in the same
directory, fsync, rename, fsync of the directory) under a lock, so a crash or a
second `atmn` never leaves it half-written. Every line that is not an assignment
of one of the variables being changed is kept byte for byte. Bindings are found
with python-dotenv's own parser, so "what counts as an assignment" is exactly what
python-dotenv reads.

Values are written bare (`NAME=value`) and only from a small safe set of
characters: python-dotenv, Node's `dotenv`, `docker run --env-file` (which does no
unquoting at all) and a POSIX shell's `.` then all read back the same value.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from atmn_auth.envfiles.reader import read_text
from atmn_auth.errors import EnvFileError

NEW_FILE_MODE = 0o600
LOCK_TIMEOUT = 30.0

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters every reader above takes literally in a bare value: no quotes, spaces,
# `#`, `$`, backslashes, backticks, `~`, globs or shell operators.
_SAFE_VALUE_RE = re.compile(r"[A-Za-z0-9_.,:/@%+=-]*")
_LEADING_WS_RE = re.compile(r"\s*")
_EXPORT_RE = re.compile(r"export[^\S\r\n]+")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+")
_BOM = "\ufeff"
# What `tempfile.mkstemp(prefix=".{name}.", suffix=".tmp")` adds to the prefix.
_TEMP_SUFFIX_RE = re.compile(r"[a-z0-9_]{8}\.tmp")


@dataclass
class EnvUpdate:
    """What `update_env_file` did.

    `previous` holds, for each variable it replaced or removed, the value python-dotenv
    read before (the last definition in the file); `previous_all` every distinct value
    any removed or replaced definition held, in file order (a file may hold several
    keys for one variable, each of them alive on the server).
    """

    path: Path
    target: Path
    created: bool = False
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    previous: dict[str, str] = field(default_factory=dict)
    previous_all: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.replaced or self.added or self.removed)


# ---------------------------------------------------------------------------- validating


def validate_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise EnvFileError(f"{name!r} is not a valid environment variable name")


def validate_value(name: str, value: str) -> None:
    """Refuses values that some `.env` reader would read differently when written bare."""
    if not _SAFE_VALUE_RE.fullmatch(value):
        raise EnvFileError(
            f"refusing to write {name}: its value has characters that .env readers "
            "disagree on (only letters, digits and _ . , : / @ % + = - are written)"
        )


# ---------------------------------------------------------------------------- rewriting


@dataclass
class _Segment:
    """One binding of python-dotenv's parse: its text, and our variable if it is one."""

    text: str
    name: str | None = None  # set when the binding assigns one of the variables we change
    value: str | None = None


def _segments(text: str, names: frozenset[str]) -> Iterator[_Segment]:
    """python-dotenv's bindings of `text`, with the ones assigning `names` marked.

    Without quotes (or a stray BOM) no binding spans lines, so only the lines that
    mention one of `names`, each with the blank lines before it, go through
    python-dotenv's parser (slow on big files); the text between is kept as it is.
    """
    if "'" in text or '"' in text or _BOM in text:
        yield from _parsed_segments(text, names)
        return
    kept: list[str] = []
    pending: list[str] = []
    for line in _LINE_RE.findall(text):
        pending.append(line)
        if _LEADING_WS_RE.fullmatch(line):
            continue  # blank: python-dotenv joins it to the next binding
        chunk = "".join(pending)
        pending.clear()
        if any(name in chunk for name in names):
            if kept:
                yield _Segment("".join(kept))
                kept.clear()
            yield from _parsed_segments(chunk, names)
        else:
            kept.append(chunk)
    if kept or pending:
        yield _Segment("".join(kept + pending))


def _parsed_segments(text: str, names: frozenset[str]) -> Iterator[_Segment]:
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        original: str = binding.original.string
        name = binding.key if binding.key in names and not binding.error else None
        if binding.error:
            name = _broken_assignment_of(original, names)
        yield _Segment(original, name, binding.value if name and not binding.error else None)


def _broken_assignment_of(original: str, names: frozenset[str]) -> str | None:
    """The variable a line python-dotenv could not parse (`KEY="unterminated`) assigns.

    Other readers (Node's dotenv, a shell) may still take such a line as a definition
    that would override ours, so it is treated as one of ours and replaced.
    """
    rest = original[_LEADING_WS_RE.match(original).end() :]  # type: ignore[union-attr]
    export = _EXPORT_RE.match(rest)
    if export:
        rest = rest[export.end() :]
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)[^\S\r\n]*=", rest)
    if match and match.group(1) in names:
        return match.group(1)
    return None


def _split_binding(text: str) -> tuple[str, str, str, str]:
    """(lines before, indentation, `export ` or "", line ending) of one binding's text."""
    lead = _LEADING_WS_RE.match(text).end()  # type: ignore[union-attr]
    leading = text[:lead]
    cut = max(leading.rfind("\n"), leading.rfind("\r")) + 1
    before, indent = leading[:cut], leading[cut:]
    export = "export " if _EXPORT_RE.match(text, lead) else ""
    if text.endswith("\r\n"):
        ending = "\r\n"
    elif text.endswith(("\n", "\r")):
        ending = text[-1]
    else:
        ending = ""
    return before, indent, export, ending


def dominant_line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    if crlf > lf and crlf >= cr:
        return "\r\n"
    if cr > lf and cr > crlf:
        return "\r"
    return "\n"


def render_update(
    text: str, set_values: Mapping[str, str], remove: Iterable[str]
) -> tuple[str, EnvUpdate]:
    """The new text of a `.env` and what changed; pure, so it can be tested on its own.

    The returned `EnvUpdate` has placeholder paths; `update_env_file` fills them in.
    """
    remove = tuple(remove)
    for name in (*set_values, *remove):
        validate_name(name)
    for name, value in set_values.items():
        validate_value(name, value)
    both = set(set_values) & set(remove)
    if both:
        raise EnvFileError(f"cannot both set and remove {', '.join(sorted(both))}")
    names = frozenset((*set_values, *remove))

    bom = _BOM if text.startswith(_BOM) else ""
    body = text[len(bom) :]
    segments = list(_segments(body, names))
    newline = dominant_line_ending(body)
    update = EnvUpdate(path=Path(), target=Path())

    ours: dict[str, list[_Segment]] = {}
    for seg in segments:
        if seg.name is not None:
            ours.setdefault(seg.name, []).append(seg)
            if seg.value is not None:
                update.previous[seg.name] = seg.value
                values = update.previous_all.setdefault(seg.name, [])
                if seg.value not in values:
                    values.append(seg.value)

    out: list[str] = []
    untouched: set[str] = set()
    for seg in segments:
        if seg.name is None:
            out.append(seg.text)
            continue
        before, indent, export, ending = _split_binding(seg.text)
        if seg.name in set_values and seg is ours[seg.name][0]:
            line = f"{before}{indent}{export}{seg.name}={set_values[seg.name]}{ending}"
            if line == seg.text and len(ours[seg.name]) == 1:
                untouched.add(seg.name)
            out.append(line)
        else:
            out.append(before)  # a later duplicate, or a variable being removed

    update.removed = [name for name in remove if name in ours]
    for name in set_values:
        defs = ours.get(name)
        if not defs:
            update.added.append(name)
        elif name in untouched:
            update.unchanged.append(name)
            update.previous.pop(name, None)
            update.previous_all.pop(name, None)
        else:
            update.replaced.append(name)

    new_body = "".join(out)
    if update.added:
        if new_body and not new_body.endswith(("\n", "\r")):
            new_body += newline
        new_body += "".join(f"{name}={set_values[name]}{newline}" for name in update.added)
    return bom + new_body, update


def update_env_file(
    path: Path,
    *,
    set_values: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
) -> EnvUpdate:
    """Sets and removes variables in the `.env` at `path` in one atomic rewrite.

    A symlinked `.env` is updated at its target (and stays a symlink). A new file is
    created with mode 0600; an existing one keeps its mode. Nothing is written when
    nothing changes. Raises `EnvFileError` (file untouched) when the path is not a
    regular file, cannot be read or written, or a value cannot be written safely.
    """
    set_values = dict(set_values or {})
    remove = tuple(remove)
    target = Path(os.path.realpath(path))
    # Validate before taking the lock, so bad input never touches the filesystem.
    render_update("", set_values, remove)
    with _locked(target):
        _remove_stale_temporaries(target)
        text = read_text(target)
        created = text is None
        new_text, update = render_update(text or "", set_values, remove)
        update.path, update.target = Path(path), target
        if created and not update.added:
            return update  # removing from a file that does not exist: nothing to do
        update.created = created
        if not created and new_text == text:
            return update
        _check_writable(target, exists=not created)
        _atomic_write(target, new_text.encode("utf-8"))
    return update


def _remove_stale_temporaries(target: Path) -> None:
    """Deletes the temporary files a killed writer left beside `target` (full of keys).

    Called under the lock: a live writer of `target` holds it for as long as its temporary
    file exists, so any file named like one of ours is a dead writer's.
    """
    prefix = f".{target.name}."
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            rest = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
            if _TEMP_SUFFIX_RE.fullmatch(rest) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def ensure_writable(path: Path) -> None:
    """Raises `EnvFileError` now if `update_env_file(path, ...)` could not write it later.

    Login calls this before the browser opens, so nobody signs in for keys that then
    have nowhere to go.
    """
    target = Path(os.path.realpath(path))
    text = read_text(target)  # also refuses directories, FIFOs and unreadable files
    _check_writable(target, exists=text is not None)


def _check_writable(target: Path, *, exists: bool) -> None:
    directory = target.parent
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise EnvFileError(f"cannot create {target}: {directory} {what}")
    if exists and not os.access(target, os.W_OK):
        raise EnvFileError(f"{target} is read-only; leaving it alone")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise EnvFileError(
            f"cannot write {target}: its directory {directory} is not writable "
            "(the file is replaced atomically, which needs a new file beside it)"
        )


def _atomic_write(target: Path, data: bytes) -> None:
    import tempfile  # imported here: reading a .env (atmn env) does not need it

    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    directory = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise EnvFileError(f"cannot write {target}: {_reason(exc)}") from None
    try:
        try:
            if st is not None:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                with contextlib.suppress(OSError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            else:
                os.fchmod(fd, NEW_FILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise EnvFileError(f"cannot write {target}: {_reason(exc)}; it was not changed") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or str(exc)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------- locking


def lock_path_for(target: Path) -> Path:
    """Where the lock for `target` lives: outside the project, keyed by its real path."""
    import hashlib  # imported here: reading a .env (atmn env) does not need it

    digest = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()[:32]
    return _lock_dir() / f"{digest}.lock"


def _lock_dir() -> Path:
    import tempfile

    import platformdirs

    candidates = [
        platformdirs.user_cache_path("atmn", appauthor=False) / "locks",
        Path(tempfile.gettempdir()) / f"atmn-locks-{_uid()}",
    ]
    for directory in candidates:
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            st = os.stat(directory)
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                continue  # someone else's directory in a shared /tmp: do not trust it
            if os.access(directory, os.W_OK | os.X_OK):
                return directory
        except OSError:
            continue
    raise EnvFileError(
        "cannot create a lock directory (tried "
        + ", ".join(str(c) for c in candidates)
        + "); set XDG_CACHE_HOME to a writable directory"
    )


def _uid() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock = FileLock(lock_path_for(target), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise EnvFileError(
            f"another atmn has been writing {target} for {LOCK_TIMEOUT:.0f}s; try again"
        ) from None
    try:
        yield
    finally:
        lock.release()
