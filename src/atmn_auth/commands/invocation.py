"""`Invocation`: everything one run of a command works with, built once by the click layer
(`cli.options.invocation`) or by a test, and handed to the command's `run_*` function.

The GitHub CLI's factory is the model: a command never reads `os.environ`, the working
directory or the terminal itself, and never opens its own HTTP session. `offline` says
whether it may reach the server at all; `session` opens the one HTTP session on first use
(so `atmn env --offline` never imports the HTTP stack) and refuses when offline.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from pathlib import Path
    from types import TracebackType

    from atmn_auth.api.session import Session
    from atmn_auth.settings import Settings
    from atmn_auth.term.console import Console


class Invocation:
    """The settings (`-p`, `-l`, `ATMN_*`), the working directory, the environment, the
    console, whether the network may be used, and the server timeout of one command.

    Use it as a context manager where a session may be opened: leaving it closes the
    session.
    """

    __slots__ = ("_session", "console", "cwd", "environ", "offline", "settings", "timeout")

    def __init__(
        self,
        settings: Settings,
        *,
        cwd: Path,
        environ: Mapping[str, str],
        console: Console,
        offline: bool = False,
        timeout: float | None = None,
        session: Session | None = None,
    ) -> None:
        self.settings = settings
        self.cwd = cwd
        self.environ = environ
        self.console = console
        self.offline = offline
        #: Seconds to wait for the server (None: `settings.DEFAULT_TIMEOUT`).
        self.timeout = timeout
        self._session = session

    @property
    def session(self) -> Session:
        """The command's HTTP session, opened on first use. An offline command has none:
        asking for it is a bug (`RuntimeError`), never a silent network call."""
        if self.offline:
            raise RuntimeError("an offline command asked for the network")
        if self._session is None:
            from atmn_auth.api.session import Session
            from atmn_auth.settings import DEFAULT_TIMEOUT

            timeout = DEFAULT_TIMEOUT if self.timeout is None else self.timeout
            self._session = Session(self.environ, timeout=timeout)
        return self._session

    def session_or_none(self) -> Session | None:
        """The session, or None for an offline command (for the flows that check only the
        format when they may not ask the server)."""
        return None if self.offline else self.session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> Invocation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
