"""`atmn --help` from a cache of click's own rendering, so that it need not import click.

Click stays the one source of the help text: on a miss, `atmn_auth.__main__` lets click
print the help as usual, and this module first renders the same page through the click
app and stores it. On a hit the stored text is printed, and click is never imported.

The cache file (`help.txt` in the user cache directory: `$XDG_CACHE_HOME/atmn` or
`~/.cache/atmn`; platformdirs' layout on macOS and Windows, without importing
platformdirs) starts with a key that covers everything the page depends on: the
version, the interpreter, the command line, the terminal width (`COLUMNS` and the
terminal's size), the locale variables, and the stamp (mtime, size, inode) of every
click and atmn_auth module that was loaded to render it, so that editing one (in an
editable install, or by upgrading click) renders the page again.

Only `os` and `sys` are used on the hit path; they are loaded before any script runs.
Any `OSError`, a corrupt file, shell completion (`_ATMN_COMPLETE`), or a page holding an
escape sequence means the cache is skipped and click answers.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

MAGIC = "atmn-help-cache 1"
FILENAME = "help.txt"
COMPLETE_VAR = "_ATMN_COMPLETE"
LOCALE_VARS = ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")
STAMPED_PACKAGES = ("click", "atmn_auth")


def serve(argv: Sequence[str]) -> bool:
    """Prints the help page from the cache and returns True; on a miss, stores click's
    rendering (when it can) and returns False: the caller then lets click print it."""
    if COMPLETE_VAR in os.environ or sys.stdout is None:
        return False
    try:
        directory = cache_dir()
        if directory is None:
            return False
        path = os.path.join(directory, FILENAME)
        key = cache_key(argv)
        text = load(path, key)
        if text is None:
            store(directory, path, key, render())
            return False
    except OSError:
        return False
    if not text.isascii() and _encoding(sys.stdout) != "utf8":
        return False  # click's own writer knows how to cope with such a stream
    write(text)
    return True


def cache_dir() -> str | None:
    """The user cache directory for atmn, as platformdirs' `user_cache_dir("atmn",
    appauthor=False)` would give it (None when it cannot be told)."""
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~/Library/Caches"), "atmn")
    if os.name == "nt":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        return os.path.join(local, "atmn", "Cache") if local else None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base.strip():
        base = os.path.expanduser("~/.cache")
    if not os.path.isabs(base):
        return None
    return os.path.join(base, "atmn")


def cache_key(argv: Sequence[str]) -> str:
    """One line naming everything outside the module files that the page depends on."""
    from atmn_auth._version import __version__

    stdout = sys.__stdout__
    try:
        size: object = tuple(os.get_terminal_size(stdout.fileno()))  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError) as exc:
        size = type(exc).__name__
    environ = os.environ
    return repr(
        (
            MAGIC,
            __version__,
            sys.executable,
            sys.version,
            list(argv),
            environ.get("COLUMNS"),
            size,
            *(environ.get(name) for name in LOCALE_VARS),
        )
    )


def stamp(path: str) -> str:
    st = os.stat(path)
    return f"{st.st_mtime_ns} {st.st_size} {st.st_ino}"


def load(path: str, key: str) -> str | None:
    """The cached page when the file is there, well formed, and its key and every stamp
    still match; None otherwise."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    try:
        header, _, text = data.decode("utf-8").partition("\n\n")
        lines = header.split("\n")
        if len(lines) < 3 or lines[0] != MAGIC or lines[1] != key:
            return None
        end, length = lines[-1].split(" ")
        if end != "END" or int(length) != len(text):
            return None
        for line in lines[2:-1]:
            mtime, size, ino, file = line.split(" ", 3)
            if stamp(file) != f"{mtime} {size} {ino}":
                return None
    except (ValueError, OSError):  # corrupt, or a stamped file is gone
        return None
    if "\x1b" in text:
        return None
    return text


def render() -> str:
    """The page exactly as `atmn --help` prints it through click (without the final
    newline that `click.echo` adds)."""
    from atmn_auth.cli import cli

    ctx = cli.context_class(cli, info_name="atmn", **cli.context_settings)
    with ctx:
        return ctx.get_help()


def loaded_files() -> list[str]:
    """The source file of every click and atmn_auth module loaded."""
    files = set()
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in STAMPED_PACKAGES:
            file = getattr(module, "__file__", None)
            if file:
                files.add(os.path.abspath(file))
    return sorted(files)


def store(directory: str, path: str, key: str, text: str) -> None:
    """Writes the page and its key atomically (a temporary file, then `os.replace`).
    Pages holding an escape sequence (colour) are not stored."""
    if "\x1b" in text or "\n" in key:
        return
    files = loaded_files()
    if any("\n" in file for file in files):
        return
    lines = [MAGIC, key, *(f"{stamp(file)} {file}" for file in files), f"END {len(text)}"]
    data = ("\n".join(lines) + "\n\n" + text).encode("utf-8")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        import contextlib  # only on this rare path: the hit path imports nothing

        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write(text: str) -> None:
    """Prints the page as `click.echo` does; a closed pipe exits 1, as click does."""
    out = sys.stdout
    try:
        out.write(text + "\n")
        out.flush()
    except BrokenPipeError:
        silence_stdout()
        sys.exit(1)


def silence_stdout() -> None:
    """After a broken pipe: point stdout at the null device, so that the flush at exit
    does not complain again (what click's `_PacifyFlushWrapper` achieves)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def _encoding(stream: object) -> str:
    return str(getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
