"""Whether keys may be written into a `.env`: the one permission policy of every flow that
writes keys (`atmn login`, `login --with-key`, recovery after a 401, `atmn keys rotate`).

`ensure_private(target, console, environ)` is called before anything is asked of the
server. It returns when the file is private enough: missing (the writer creates it 0600),
or owned by you (or root) and neither group- nor world-writable nor readable by others. A
group-readable file (0640) is accepted: sharing with a group is a choice people make.

Otherwise it says what is wrong. On a terminal (`console.asks`) it asks "Make it private
(chmod 600)?" and runs that on yes; no answer means no. Elsewhere, and on no, it raises
`AtmnError` (exit 1) naming the command to run. A file another user owns, or one in a
directory another user owns, is refused outright: its owner can read (or replace)
whatever is written there, whatever its mode; the refusal says how to trust it
(`ATMN_SAFE_DIRECTORIES`, `envfiles.trust`) when that makes sense, and a directory listed
there is trusted whoever owns it.

It also refuses, before anyone signs in, when another process holds the lock every
writer of the file takes (`envfiles.lock.ensure_free`, which names the holder), rather
than let the write time out after the sign-in.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path

from atmn_auth.envfiles import trust
from atmn_auth.envfiles.privacy import Checked, exposure, open_directory, snapshot
from atmn_auth.errors import AtmnError
from atmn_auth.term.console import Console

QUESTION = "Make it private (chmod 600)?"


def ensure_private(
    target: Path, console: Console, environ: Mapping[str, str] | None = None
) -> Checked:
    """Returns what was checked when keys may be written to `target` (for the writer to
    look again under its lock: `update_env_file(checked=…)`); raises `AtmnError`
    (nothing changed) when they may not. May chmod the file to 0600 after asking on a
    terminal. `environ` (`os.environ` when None) is the process environment
    (`ATMN_SAFE_DIRECTORIES`)."""
    from atmn_auth.envfiles.lock import ensure_free

    real = Path(os.path.realpath(target))
    rule = trust.policy(environ)
    _check_directory(real, rule)
    _warn_open_directory(real.parent, console)
    try:
        st: os.stat_result | None = os.stat(real)
    except OSError:
        st = None  # missing: created 0600; unreadable: the writer's own checks say so
    if st is not None and stat.S_ISREG(st.st_mode):
        _check_owner(real, st, rule)
    ensure_free(real)
    if st is None or not stat.S_ISREG(st.st_mode):
        return snapshot(target, rule)  # a directory, a FIFO: the writer refuses it
    problems = exposure(stat.S_IMODE(st.st_mode))
    if not problems:
        return snapshot(target, rule)
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
    return snapshot(target, rule)


def _warn_open_directory(directory: Path, console: Console) -> None:
    """A directory others can write without a sticky bit (0777, or 2775 with a shared
    group): they can replace the `.env` in it at any time. Not refused (teams share
    project directories on purpose, and the writer looks again under its lock, so no key
    goes into a file swapped in meanwhile), but said, with the fix."""
    who = open_directory(directory)
    if who is not None:
        console.info(
            f"Warning: {directory} can be written by {who}, who can replace the .env in it "
            f"(and the keys with it) at any time; `chmod o-w,g-w "
            f"{shlex.quote(str(directory))}`, or `chmod +t` to let only a file's owner "
            "replace it"
        )


def _check_owner(real: Path, st: os.stat_result, rule: trust.Policy) -> None:
    if rule.owns(st.st_uid, real.parent):
        return
    raise AtmnError(
        f"{real} belongs to {trust.owner(st.st_uid)}, not to you: its owner can read any key "
        "written to it; nothing was written; "
        + _instead(real.parent, rule, "a file of your own (--env-file)")
    )


def _check_directory(real: Path, rule: trust.Policy) -> None:
    """Refuses a directory another user owns: they can replace or read what is put there
    (the search for the nearest `.env` skips such a directory for the same reason)."""
    try:
        owner = os.stat(real.parent).st_uid
    except OSError:
        return  # missing: the writer says so
    if rule.owns(owner, real.parent):
        return
    raise AtmnError(
        f"{real.parent} belongs to {trust.owner(owner)}, not to you: whoever owns a "
        f"directory can replace the files in it, so no keys are written to {real}; "
        + _instead(real.parent, rule, "a directory of your own (or --env-file)")
    )


def _instead(directory: Path, rule: trust.Policy, own: str) -> str:
    """What to do: trust the directory (when it is not one anyone may write to), or
    use `own`."""
    hint = trust.trust_hint(directory, rule)
    if hint is None:
        return f"use {own}"
    return f"if you trust it: {hint}; else use {own}"


def _mode(st: os.stat_result) -> str:
    return f"mode {stat.S_IMODE(st.st_mode):04o}"
