"""Whether keys may be written into a `.env`: the one permission policy of every flow that
writes keys (`atmn login`, `login --with-key`, recovery after a 401, `atmn keys rotate`).

`ensure_private(target, console)` is called before anything is asked of the server. It
returns when the file is private enough: missing (the writer creates it 0600), or owned
by you (or root) and neither group- nor world-writable nor readable by others. A
group-readable file (0640) is accepted: sharing with a group is a choice people make.

Otherwise it says what is wrong. On a terminal (`console.asks`) it asks "Make it private
(chmod 600)?" and runs that on yes; no answer means no. Elsewhere, and on no, it raises
`AtmnError` (exit 1) naming the command to run. A file another user owns, or one in a
directory another user owns, is refused outright: its owner can read (or replace)
whatever is written there, whatever its mode.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from atmn_auth.errors import AtmnError
from atmn_auth.flows.console import Console

QUESTION = "Make it private (chmod 600)?"


def ensure_private(target: Path, console: Console) -> None:
    """Returns when keys may be written to `target`; raises `AtmnError` (nothing changed)
    when they may not. May chmod the file to 0600 after asking on a terminal."""
    real = Path(os.path.realpath(target))
    _check_directory(real)
    try:
        st = os.stat(real)
    except OSError:
        return  # missing: created 0600; unreadable: the writer's own checks say so
    if not stat.S_ISREG(st.st_mode):
        return  # a directory, a FIFO: the writer refuses it with its own message
    _check_owner(real, st)
    problems = exposure(stat.S_IMODE(st.st_mode))
    if not problems:
        return
    command = f"chmod 600 {shlex.quote(str(real))}"
    what = f"{real} is {_mode(st)}: {' and '.join(problems)}"
    prompter = console.asks
    if prompter is None:
        raise AtmnError(f"{what}; refusing to write keys into it. Make it private first: {command}")
    console.info(f"{what}, so keys written there would not be private.")
    if not prompter.confirm(QUESTION, True):
        raise AtmnError(f"{what}; nothing was written. Make it private first: {command}")
    try:
        os.chmod(real, 0o600)
    except OSError as exc:
        raise AtmnError(
            f"cannot chmod {real}: {exc.strerror or exc}; nothing was written"
        ) from None
    console.info(f"{real} is now 0600 (only you can read or write it).")


def exposure(mode: int) -> list[str]:
    """What a file mode lets other people do with the keys in the file."""
    problems = []
    if mode & stat.S_IWOTH:
        problems.append("anyone can change it")
    elif mode & stat.S_IWGRP:
        problems.append("its group can change it")
    if mode & stat.S_IROTH:
        problems.append("anyone can read it")
    return problems


def _check_owner(real: Path, st: os.stat_result) -> None:
    from atmn_auth.envfiles.trust import trusted_uids

    uids = trusted_uids()
    if uids is None or st.st_uid in uids:
        return
    raise AtmnError(
        f"{real} belongs to uid {st.st_uid}, not to you: its owner can read any key written "
        "to it; nothing was written (use a file of your own, with --env-file)"
    )


def _check_directory(real: Path) -> None:
    """Refuses a directory another user owns: they can replace or read what is put there
    (the search for the nearest `.env` skips such a directory for the same reason)."""
    from atmn_auth.envfiles.trust import trusted_uids

    uids = trusted_uids()
    try:
        owner = os.stat(real.parent).st_uid
    except OSError:
        return  # missing: the writer says so
    if uids is None or owner in uids:
        return
    raise AtmnError(
        f"{real.parent} belongs to uid {owner}, not to you: whoever owns a directory can "
        f"replace the files in it; refusing to write keys to {real} (use a directory of "
        "your own, or --env-file)"
    )


def _mode(st: os.stat_result) -> str:
    return f"mode {stat.S_IMODE(st.st_mode):04o}"
