"""`atmn run [-p] [-l] -- CMD [ARGS...]`: CMD with the key of the selected environment.

CMD gets the variables `atmn env --export` prints (`atmn_auth.commands.export`), and of
the two key variables only those: `AUTUMN_SECRET_KEY` holds the key of the selected
environment (with `-p`, the live key, so the same program runs against live without
editing any file); `AUTUMN_PROD_SECRET_KEY` the live key with `-p`, or with `--live-too`
beside a sandbox key, and otherwise not at all: a sandbox command gets no live key it
did not ask for, and a variable atmn says it left out is not inherited from atmn's own
environment either. Everything else in the environment is passed unchanged.

In order, before CMD starts:

1. CMD is looked up in `PATH` (`find_command`): not found is exit 127, found but not
   executable exit 126, each one line, and nothing is asked of the server;
2. the key is resolved by the one rule (with `--env-file`, from that file alone); when
   the process environment and the nearest `.env` disagree, one line on standard error
   says which was used;
3. unless `--offline`, the server is asked about it (`GET /v1/organization/me`). A
   rejected or missing key, on a terminal, gets the offer `atmn env` makes (sign in
   again into the `.env` the key came from); anywhere else, or when the offer is
   declined, exit 1 with the next step and CMD is not started. A server that does not
   answer is exit 1 too (`--offline` skips the check).

Then `start`: on POSIX atmn replaces itself with CMD (`os.execve`): nothing remains to
be done after it, the HTTP session is closed by then, and signals, the terminal and the
exit status are CMD's own. Elsewhere, or with `--no-exec`, CMD runs as a child with the
same standard streams (and every other inherited descriptor), SIGINT, SIGTERM and SIGHUP
sent to atmn are forwarded to it, and atmn exits with its exit status, 128+N when it
died of signal N (`exit_status`).
"""

from __future__ import annotations

import os
import sys

from atmn_auth.errors import AtmnError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import subprocess
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from atmn_auth.commands.env import EnvReport
    from atmn_auth.commands.invocation import Invocation

#: The signals atmn passes on to CMD when it stays CMD's parent.
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP")
NOT_FOUND = 127
NOT_EXECUTABLE = 126


class Prepared:
    """CMD, found, with the environment it is to run in."""

    __slots__ = ("argv", "environ", "executable")

    def __init__(self, executable: str, argv: list[str], environ: dict[str, str]) -> None:
        self.executable = executable
        self.argv = argv
        self.environ = environ

    def __repr__(self) -> str:  # the environment holds keys: never shown
        return f"Prepared(executable={self.executable!r}, argv={self.argv!r})"


def _shown(name: str) -> str:
    from atmn_auth.text import printable

    return repr(printable(name, 120))


def find_command(name: str, path: str | None) -> str:
    """The file `name` runs, looked up in `path` as a shell would (a name with a slash is
    a path). Raises `AtmnError` with exit 127 (not found) or 126 (not executable)."""
    import shutil

    if not name:
        raise AtmnError("the command to run is an empty string", exit_code=NOT_FOUND)
    found = shutil.which(name, path=path)
    if found is not None:
        return found
    separators = [sep for sep in (os.sep, os.altsep) if sep]
    if any(sep in name for sep in separators):
        if os.path.isdir(name):
            raise AtmnError(f"{_shown(name)} is a directory", exit_code=NOT_EXECUTABLE)
        if os.path.exists(name):
            raise AtmnError(f"{_shown(name)} is not executable", exit_code=NOT_EXECUTABLE)
        raise AtmnError(f"{_shown(name)}: no such file", exit_code=NOT_FOUND)
    raise AtmnError(f"command not found: {_shown(name)} (looked in PATH)", exit_code=NOT_FOUND)


def needs_sign_in(report: EnvReport) -> bool:
    """A key the server rejected, or none at all: what a new sign-in fixes."""
    return report.server == "rejected" or report.format in ("missing", "empty")


def prepare_run(
    inv: Invocation,
    *,
    argv: Sequence[str],
    env_file: Path | None = None,
    live_too: bool = False,
) -> Prepared:
    """Steps 1 to 3 of the module's doc; raises `AtmnError` when CMD must not start.

    Offline, the server is not asked. Where a person can answer and the keys come from
    the nearest `.env` (no `--env-file`), a rejected or missing key can be replaced first
    (`offer_sign_in`).
    """
    from atmn_auth.commands.export import EXPORTED, Selection, not_usable, select_keys

    environ = inv.environ
    argv = list(argv)
    if not argv:
        raise UsageError("no command to run: atmn run [-p] [-l] -- CMD [ARGS]")
    executable = find_command(argv[0], environ.get("PATH", os.defpath))

    def select() -> Selection:
        return select_keys(
            inv.settings,
            cwd=inv.cwd,
            environ=environ,
            env_file=env_file,
            session=inv.session_or_none(),
            live_too=live_too,
        )

    selection = select()
    report = selection.report
    may_offer = not inv.offline and env_file is None and inv.console.asks is not None
    if (
        not selection.variables
        and may_offer
        and needs_sign_in(report)
        and offer_sign_in(inv, report)
    ):
        selection = select()
    for note in selection.notes:
        inv.console.warn(note)
    if not selection.variables:
        name = os.path.basename(argv[0]) or argv[0]
        raise AtmnError(not_usable(selection.report, f"{_shown(name)} was not started"))
    inherited = {name: value for name, value in environ.items() if name not in EXPORTED}
    return Prepared(executable, argv, {**inherited, **selection.variables})


def offer_sign_in(inv: Invocation, report: EnvReport) -> bool:
    """`atmn env`'s offer on a terminal: sign in again into the `.env` the key came from.

    Not made when nobody can answer, recovery is turned off, or the key comes from the
    process environment (a new key in `.env` would stay shadowed by it)."""
    from atmn_auth.auth.recovery import recover_interactively, recovery_disabled

    settings, prompter = inv.settings, inv.console.asks
    winner = report.resolution.winner
    if prompter is None or recovery_disabled(inv.environ):
        return False
    if winner is not None and winner.source == "environment":
        return False
    what = "was rejected" if report.server == "rejected" else "is not set"
    if not prompter.confirm(f"{settings.key_var} {what}. Sign in again now?", True):
        return False
    recovered = recover_interactively(settings, inv.cwd, inv.environ, inv.console, inv.session)
    return recovered is not None


# ---------------------------------------------------------------------------- starting


def exit_status(returncode: int) -> int:
    """A child's `returncode` as a shell reports it: -N (killed by signal N) is 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def start(prepared: Prepared, *, replace: bool = True) -> int:
    """Runs CMD. With `replace` on POSIX, atmn becomes CMD and this never returns;
    otherwise CMD runs as a child and its exit status (`exit_status`) is returned.
    Raises `AtmnError` (126/127) when CMD cannot be started."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    if replace and os.name == "posix":
        _exec(prepared)
    return _spawn(prepared)


def _start_error(argv0: str, exc: OSError) -> AtmnError:
    import errno

    reason = exc.strerror or str(exc)
    code = NOT_FOUND if exc.errno == errno.ENOENT else NOT_EXECUTABLE
    return AtmnError(f"cannot run {_shown(argv0)}: {reason}", exit_code=code)


def _exec(prepared: Prepared) -> None:
    import signal

    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec,
    # so give CMD the defaults it would get from a shell (as subprocess does).
    restored = {}
    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(signal, name, None)
        if sig is not None:
            restored[sig] = signal.signal(sig, signal.SIG_DFL)
    try:
        os.execve(prepared.executable, prepared.argv, prepared.environ)  # noqa: S606
    except OSError as exc:
        for sig, handler in restored.items():
            signal.signal(sig, handler)
        raise _start_error(prepared.argv[0], exc) from None


def _sigint_reaches_child_anyway() -> bool:
    """Whether a SIGINT atmn gets probably came from the terminal, which sends it to the
    whole foreground process group, CMD included: forwarding it would deliver it twice."""
    if os.name != "posix":
        return True  # Windows: the console sends Ctrl-C to every process attached to it
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def _send(child: subprocess.Popen[bytes], signum: int, *, queued: bool = False) -> None:
    """Passes `signum` on to CMD. A SIGINT from the terminal has reached CMD already,
    unless it was `queued` while CMD was being started (CMD was not there to get it)."""
    import signal

    if child.poll() is not None:
        return
    if signum == signal.SIGINT and not queued and _sigint_reaches_child_anyway():
        return
    try:
        if os.name == "posix":
            child.send_signal(signum)
        else:
            child.terminate()
    except OSError:  # it has just exited
        pass


def _dies_with_parent() -> Callable[[], None] | None:
    """On Linux, what the child runs before CMD so that it gets SIGKILL when atmn dies
    (`PR_SET_PDEATHSIG`), even of SIGKILL, which atmn cannot forward: CMD holds the keys
    in its environment and must not outlive the command that gave them. None elsewhere
    (macOS and Windows have no such call: there CMD outlives a killed atmn)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:  # in the child, between fork and exec: nothing that allocates much
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # atmn died before the call: too late to be told
            os._exit(128 + signal.SIGKILL)

    return arm


def _spawn(prepared: Prepared) -> int:
    """CMD as a child, the forwarded signals passed on, its exit status returned."""
    import signal
    import subprocess

    box: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if box:
            _send(box[0], signum)
        else:  # arrived while CMD was being started: passed on once it is
            pending.append(signum)

    installed = {}
    waiter: _Waiter | None = None
    try:
        for name in FORWARDED:
            sig = getattr(signal, name, None)
            # a signal atmn was started with ignored (nohup, `&` in a script) stays
            # ignored, for CMD too
            if sig is not None and signal.getsignal(sig) != signal.SIG_IGN:
                installed[sig] = signal.signal(sig, forward)
        waiter = _Waiter.start()
        try:
            child = subprocess.Popen(
                prepared.argv,
                executable=prepared.executable if os.name == "posix" else None,
                env=prepared.environ,
                close_fds=False,  # as exec would: every inherited descriptor stays open
                preexec_fn=_dies_with_parent(),
            )
        except OSError as exc:
            raise _start_error(prepared.argv[0], exc) from None
        box.append(child)
        for signum in pending:
            _send(child, signum, queued=True)
        returncode = waiter.wait(child) if waiter is not None else _poll_wait(child)
    finally:
        try:
            if waiter is not None:
                waiter.close()
        finally:
            for sig, handler in installed.items():
                signal.signal(sig, handler)
    return exit_status(returncode)


def _poll_wait(child: subprocess.Popen[bytes]) -> int:
    """Where `_Waiter` cannot be used (Windows, a thread other than the main one): waits
    in short steps, so that a signal handler runs within 0.1 s."""
    import subprocess

    while True:
        try:
            return child.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue


class _Waiter:
    """Waits for a child without losing a signal (POSIX, main thread).

    A plain `waitpid` can sleep through a forwarded signal: Python runs a signal's
    handler between bytecodes, so a signal that lands after the last check and before
    the blocking call is only acted on when the call returns, which here is when CMD
    exits, which it waits for the signal to do. Instead every signal with a Python
    handler writes a byte to a pipe (`signal.set_wakeup_fd`), SIGCHLD included, and the
    wait is a `poll` of the child followed by a sleep on that pipe: a signal that lands
    anywhere in between has left its byte, and the sleep returns at once.

    CMD's exit also wakes the sleep through a pidfd where Linux has them, so that a
    SIGCHLD atmn was started with blocked cannot keep it waiting; elsewhere the sleep
    ends after a second at most for the same reason. While CMD runs, SIGCHLD has a
    handler: an inherited `SIG_IGN` would let the kernel reap CMD and lose its exit
    status (so CMD starts with SIGCHLD at its default, not ignored).
    """

    def __init__(self, read_fd: int, write_fd: int, old_fd: int, old_chld: object) -> None:
        self._read, self._write = read_fd, write_fd
        self._old_fd, self._old_chld = old_fd, old_chld

    @classmethod
    def start(cls) -> _Waiter | None:
        """Set up, or None where it cannot be (not POSIX, not the main thread)."""
        import signal

        if os.name != "posix":
            return None
        read_fd, write_fd = os.pipe()
        old_fd: int | None = None
        try:
            for fd in (read_fd, write_fd):
                os.set_blocking(fd, False)
            old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
            old_chld = signal.signal(signal.SIGCHLD, _ignore)
        except BaseException as exc:
            if old_fd is not None:
                signal.set_wakeup_fd(old_fd)
            os.close(read_fd)
            os.close(write_fd)
            if isinstance(exc, ValueError):  # not the main thread
                return None
            raise
        return cls(read_fd, write_fd, old_fd, old_chld)

    def wait(self, child: subprocess.Popen[bytes]) -> int:
        import selectors

        pidfd = _pidfd(child.pid)
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self._read, selectors.EVENT_READ)
                if pidfd is not None:
                    selector.register(pidfd, selectors.EVENT_READ)
                while True:
                    returncode = child.poll()
                    if returncode is not None:
                        return returncode
                    selector.select(None if pidfd is not None else 1.0)  # handlers run next
                    try:
                        while os.read(self._read, 512):
                            pass
                    except BlockingIOError:
                        pass
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def close(self) -> None:
        import signal

        try:
            signal.signal(signal.SIGCHLD, self._old_chld)  # type: ignore[arg-type]
            signal.set_wakeup_fd(self._old_fd)
        finally:
            os.close(self._read)
            os.close(self._write)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when process `pid` exits (Linux 5.3+), or None."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:  # an older kernel, or a sandbox that forbids it
        return None
    return fd


def _ignore(signum: int, frame: object) -> None:
    """The SIGCHLD handler while CMD runs: its only job is the byte it leaves."""
