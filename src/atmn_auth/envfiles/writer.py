"""Reading and updating a project's `.env` without disturbing anything else in it.

`update_env_file` rewrites the file in one atomic step (temporary file in the same
directory, created 0600, fsync, rename, fsync of the directory) under a lock shared by
every user and process (`lock`), so a crash or a second `atmn` never leaves it
half-written. The temporary file gets the old file's mode only once it is complete,
just before the rename (a writer killed while writing leaves a 0600 file, which the
next write deletes). Every line that is not an assignment of one of the variables being changed is
kept byte for byte, a missing final line break included.

What counts as an assignment of ours: what python-dotenv reads as one (`grammar`, its
exact grammar), plus what other readers take for one where python-dotenv does not: a
line python-dotenv cannot parse but a shell or Node's dotenv reads (`NAME="unterminated`)
and Node's `NAME: value` form; not a line inside a value Node's dotenv quotes with
backticks (`nodeview`), which python-dotenv may read as a definition: that line is left
alone (it is part of another variable for Node), its value counts as replaced, and the
new line goes at the end of the file, after it. A line inside the file that starts with
U+FEFF, then `NAME=value`, is Node's definition too (Node's dotenv skips the mark as
white space; python-dotenv reads a name with the mark in it). A key is never written on
the line of a UTF-8 byte order mark (a shell would not read it), and a U+FEFF that was
not the file's first character never becomes it (python-dotenv would drop it, and read
that line as a definition it did not read before).

`restore_env_file` puts back the bytes an update replaced, under the same lock, only
while the file still holds exactly what that update wrote (`atmn keys rotate` undoing
its write).

Values are written bare (`NAME=value`) and only from a small safe set of
characters: python-dotenv, Node's `dotenv`, `docker run --env-file` (which does no
unquoting at all) and a POSIX shell's `.` then all read back the same value.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from atmn_auth.envfiles import grammar, nodeview, privacy
from atmn_auth.envfiles.lock import LOCK_TIMEOUT, lock_path_for, locked
from atmn_auth.envfiles.privacy import Checked
from atmn_auth.envfiles.reader import read_bytes, read_text
from atmn_auth.errors import EnvFileError

__all__ = [
    "LOCK_TIMEOUT",
    "NEW_FILE_MODE",
    "EnvUpdate",
    "dominant_line_ending",
    "ensure_writable",
    "lock_path_for",
    "render_update",
    "replaced_values",
    "restore_env_file",
    "update_env_file",
    "validate_name",
    "validate_value",
]

NEW_FILE_MODE = 0o600

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

    `original` is the file's bytes before (None: there was no file) and `written` the
    bytes written (None: nothing was written), both read and written under one lock:
    what `restore_env_file` needs to undo the update exactly. None of these values is
    shown by `repr` (they hold keys).
    """

    path: Path
    target: Path
    created: bool = False
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    previous: dict[str, str] = field(default_factory=dict, repr=False)
    previous_all: dict[str, list[str]] = field(default_factory=dict, repr=False)
    original: bytes | None = field(default=None, repr=False)
    written: bytes | None = field(default=None, repr=False)

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
class _Ours:
    """A piece of the file that defines one of our variables, from the start of its line.

    `kind`: "binding" (python-dotenv reads it), "broken" (python-dotenv cannot parse it,
    a shell or Node's dotenv reads it), "node" (Node's dotenv reads it, python-dotenv
    does not: `NAME: value`, or a line starting with U+FEFF), or "shielded"
    (python-dotenv reads it, but Node's dotenv reads it as part of a backtick-quoted
    value: it is left as it is). `value` is what python-dotenv (for "node", Node) reads.
    """

    start: int
    end: int
    name: str
    kind: str
    value: str | None


def _ours(body: str, names: frozenset[str]) -> list[_Ours]:
    found: list[_Ours] = []
    for piece in grammar.lines_of(body, names):
        if body.startswith("\r\n", piece.end - 1):  # an error ends before the "\n" of "\r\n"
            piece.end += 1
        text = body[piece.start : piece.end]
        if piece.key in names:
            found.append(_Ours(piece.start, piece.end, piece.key, "binding", piece.value))
            continue
        broken = _broken_assignment_of(text, names) if piece.error else None
        if broken is not None:
            found.append(_Ours(piece.start, piece.end, broken, "broken", None))
            continue
        colon = _COLON_RE.match(text)
        if colon is not None and colon.group(1) in names:
            name = colon.group(1)
            value = nodeview.colon_value(text, name)
            found.append(_Ours(piece.start, piece.end, name, "node", value))
    marked = _marked_lines(body, names)
    if marked:
        found = sorted(found + marked, key=lambda seg: seg.start)
    spans = nodeview.backtick_spans(body)
    if spans:
        shielded = []
        for seg in found:
            if nodeview.inside(spans, seg.start):
                if seg.kind == "binding":
                    shielded.append(_Ours(seg.start, seg.end, seg.name, "shielded", seg.value))
            else:
                shielded.append(seg)
        found = shielded
    return found


#: `[export ]NAME:` and whitespace: Node's dotenv reads `NAME: value` as an assignment.
_COLON_RE = re.compile(r"[^\S\r\n]*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*):\s")
#: A line whose first character other than blanks is U+FEFF.
_MARKED_LINE_RE = re.compile(r"(?:\A|(?<=[\r\n]))[^\S\r\n]*\ufeff")
#: `[export ]NAME` after the blanks (U+FEFF among them) Node's dotenv skips.
_NODE_NAME_RE = re.compile(r"[\s\ufeff]*(?:export[\s\ufeff]+)?([A-Za-z0-9_.-]+)")


def _marked_lines(body: str, names: frozenset[str]) -> list[_Ours]:
    """Our variables on lines that start with U+FEFF inside the file.

    JavaScript's `\\s` matches U+FEFF, so Node's dotenv reads U+FEFF `NAME=value` as NAME,
    while python-dotenv reads a name with the mark in it (or cannot parse the line). Rare,
    so the file is parsed whole (`grammar.bindings`, linear) only when such a line exists.
    """
    if "\ufeff" not in body or _MARKED_LINE_RE.search(body) is None:
        return []
    found: list[_Ours] = []
    for piece in grammar.bindings(body):
        text = body[piece.start : piece.end]
        at = piece.start + len(text) - len(text.lstrip())  # python-dotenv joins blank lines
        if at >= piece.end or not body.startswith("\ufeff", at):
            continue
        start = max(piece.start, body.rfind("\n", 0, at) + 1, body.rfind("\r", 0, at) + 1)
        end = piece.end + 1 if body.startswith("\r\n", piece.end - 1) else piece.end
        line = body[start:end]
        named = _NODE_NAME_RE.match(line)
        if named is None or named.group(1) not in names:
            continue
        value = nodeview.colon_value(line, named.group(1))
        if value is not None:
            found.append(_Ours(start, end, named.group(1), "node", value))
    return found


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


def _split_line(text: str) -> tuple[str, str, str]:
    """(indentation, `export ` or "", line ending) of a piece that starts a line."""
    indent = text[: len(text) - len(text.lstrip(" \t"))]
    export = "export " if _EXPORT_RE.match(text, len(indent)) else ""
    if text.endswith("\r\n"):
        ending = "\r\n"
    elif text.endswith(("\n", "\r")):
        ending = text[-1]
    else:
        ending = ""
    return indent, export, ending


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
    newline = dominant_line_ending(body)
    final_newline = not body or body.endswith(("\n", "\r"))
    update = EnvUpdate(path=Path(), target=Path())

    found = _ours(body, names) if any(name in body for name in names) else []
    real: dict[str, list[_Ours]] = {}
    shielded: dict[str, int] = {}  # where the last one starts
    for seg in found:
        if seg.kind == "shielded":
            if seg.name not in set_values:
                continue  # left alone, and python-dotenv still reads it: not removed
            shielded[seg.name] = seg.start
        else:
            real.setdefault(seg.name, []).append(seg)
        if seg.value is not None:
            if seg.kind in ("binding", "shielded"):
                update.previous[seg.name] = seg.value
            values = update.previous_all.setdefault(seg.name, [])
            if seg.value not in values:
                values.append(seg.value)

    # A name python-dotenv reads last in a shielded line gets its line at the end.
    moved = {name for name, at in shielded.items() if name not in real or real[name][0].start < at}
    out: list[str] = []
    pos = 0
    first_line_is_ours = False
    untouched: set[str] = set()
    for seg in found:
        if seg.kind == "shielded":
            continue
        out.append(body[pos : seg.start])
        pos = seg.end
        original = body[seg.start : seg.end]
        if seg.name in set_values and seg is real[seg.name][0] and seg.name not in moved:
            indent, export, ending = _split_line(original)
            line = f"{indent}{export}{seg.name}={set_values[seg.name]}{ending}"
            if line == original and len(real[seg.name]) == 1 and not (bom and seg.start == 0):
                untouched.add(seg.name)
            first_line_is_ours = first_line_is_ours or seg.start == 0
            out.append(line)
        # else: a later duplicate, or a variable being removed: the whole line goes
    out.append(body[pos:])

    update.removed = [name for name in remove if name in real]
    appended = []
    for name in set_values:
        if name in moved or name not in real:
            appended.append(name)
            (update.replaced if name in moved else update.added).append(name)
        elif name in untouched:
            update.unchanged.append(name)
            update.previous.pop(name, None)
            update.previous_all.pop(name, None)
        else:
            update.replaced.append(name)

    new_body = "".join(out)
    if appended:
        if new_body and not new_body.endswith(("\n", "\r")):
            new_body += newline
        first_line_is_ours = first_line_is_ours or not new_body
        new_body += "".join(f"{name}={set_values[name]}{newline}" for name in appended)
    if not final_newline and new_body.endswith(("\n", "\r")):
        # keep a missing final line break missing
        new_body = new_body[: -2 if new_body.endswith("\r\n") else -1]
    if bom and first_line_is_ours:
        new_body = newline + new_body  # the mark keeps a line of its own
    elif not bom and new_body.startswith(_BOM):
        # a mark from inside the file (its first line removed) must not become the file's
        # first character: python-dotenv would drop it and read the line anew
        new_body = newline + new_body
    return bom + new_body, update


def replaced_values(path: Path, names: Iterable[str]) -> dict[str, list[str]]:
    """What setting `names` in the `.env` at `path` would replace, without writing: every
    distinct value any definition of each holds, in file order (`EnvUpdate.previous_all`
    of that update); `{}` when the file does not exist."""
    text = read_text(Path(os.path.realpath(path)))
    wanted = frozenset(names)
    values: dict[str, list[str]] = {}
    body = (text or "").removeprefix(_BOM)
    if not any(name in body for name in wanted):
        return values
    for seg in _ours(body, wanted):
        if seg.value is not None and seg.value not in values.setdefault(seg.name, []):
            values[seg.name].append(seg.value)
    return {name: found for name, found in values.items() if found}


def update_env_file(
    path: Path,
    *,
    set_values: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    checked: Checked | None = None,
) -> EnvUpdate:
    """Sets and removes variables in the `.env` at `path` in one atomic rewrite.

    A symlinked `.env` is updated at its target (and stays a symlink). A new file is
    created with mode 0600; an existing one keeps its mode. Nothing is written when
    nothing changes. Raises `EnvFileError` (file untouched) when the path is not a
    regular file, cannot be read or written, or a value cannot be written safely.

    With `checked` (what `privacy.snapshot` saw when keys were allowed in), the file is
    looked at again under the lock (`privacy.recheck`) and refused if it changed hands
    since; its mode is never widened past the checked one.
    """
    set_values = dict(set_values or {})
    remove = tuple(remove)
    target = Path(os.path.realpath(path))
    # Validate before taking the lock, so bad input never touches the filesystem.
    render_update("", set_values, remove)
    with locked(target):
        problem = privacy.recheck(checked) if checked is not None else None
        if problem is not None:
            raise EnvFileError(f"{problem}; no keys were written to it")
        _remove_stale_temporaries(target)
        text = read_text(target)
        created = text is None
        new_text, update = render_update(text or "", set_values, remove)
        update.path, update.target = Path(path), target
        if created and not update.added:
            return update  # removing from a file that does not exist: nothing to do
        update.created = created
        # strict UTF-8 decodes and encodes back to the same bytes
        update.original = None if text is None else text.encode("utf-8")
        if not created and new_text == text:
            return update
        data = new_text.encode("utf-8")
        _check_writable(target, exists=not created)
        _atomic_write(target, data, most=checked.mode if checked is not None else None)
        update.written = data
    return update


def restore_env_file(path: Path, *, expected: bytes, original: bytes | None) -> bool:
    """Puts `original` back in the file at `path` (None: there was no file, so it is
    deleted), atomically and under the writers' lock, only while the file holds exactly
    `expected` (what an update wrote). Returns False, leaving the file alone, when it
    holds anything else (another writer changed it, or it is gone).

    Raises `EnvFileError` when it cannot be read or written (then it still holds
    `expected`).
    """
    target = Path(os.path.realpath(path))
    with locked(target):
        _remove_stale_temporaries(target)
        if read_bytes(target) != expected:
            return False
        if original is None:
            try:
                os.unlink(target)
            except OSError as exc:
                raise EnvFileError(f"cannot remove {target}: {_reason(exc)}") from None
            _fsync_directory(target.parent)
            return True
        _check_writable(target, exists=True)
        _atomic_write(target, original)
    return True


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


def _atomic_write(target: Path, data: bytes, most: int | None = None) -> None:
    """Writes `data` to a new 0600 file beside `target`, then renames it over `target`.

    The new file takes the old one's owner before anything is written to it, and its
    mode only once it is complete, just before the rename: while it is being written it
    is readable by its owner alone, whatever the old file allowed (a writer killed
    meanwhile leaves a 0600 file, which the next write deletes). With `most`, that mode
    is never wider than `most`.
    """
    import tempfile  # imported here: reading a .env (atmn env) does not need it

    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    mode = stat.S_IMODE(st.st_mode) if st is not None else NEW_FILE_MODE
    if most is not None:
        mode &= most
    directory = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise EnvFileError(f"cannot write {target}: {_reason(exc)}") from None
    closed = False
    try:
        try:
            os.fchmod(fd, NEW_FILE_MODE)  # mkstemp's mode already; said here on purpose
            if st is not None:
                with contextlib.suppress(OSError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            if mode != NEW_FILE_MODE:  # the old file's mode, at the last moment
                os.fchmod(fd, mode)
            os.close(fd)
            closed = True
            os.replace(tmp_name, target)
        except BaseException:
            if not closed:
                os.close(fd)
                closed = True
            raise
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
