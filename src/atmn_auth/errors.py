"""Every exception `atmn` raises, in one place.

`AtmnError` is what the CLI turns into one `atmn: error: ...` line and an exit code; the
others say which part failed, so callers can tell them apart. This module imports
nothing, so every layer (and `atmn --help`) can use it for free. The two errors
`AutumnClient` raises on a rejected key also extend `httpx2.HTTPStatusError`, so they
live beside the client (`atmn_auth.client`), where httpx2 is loaded anyway.
"""

from __future__ import annotations


class AtmnError(Exception):
    """A failure the user should read as one line; `exit_code` is what `atmn` exits with."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class Interrupted(KeyboardInterrupt):
    """Ctrl-C after something was already done: `message` says what (the default line,
    "nothing was changed", would not be true). Exit code 130 like any interrupt."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def interrupted_line(exc: BaseException) -> str:
    """The line `atmn` prints for a Ctrl-C: what was done when it says, else that nothing
    was changed."""
    if isinstance(exc, Interrupted):
        return f"atmn: interrupted; {exc.message}."
    return "atmn: interrupted; nothing was changed."


class UsageError(AtmnError):
    """Bad flags, a bad setting, or a choice the user must make (exit code 2)."""

    exit_code = 2


# --- talking to the server ---------------------------------------------------------------


class BackendError(AtmnError):
    """The server answered, but not as the contract says; `status` is its HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(BackendError):
    """An answer over the size cap: refused while it streams in, never held whole."""


class InvalidKey(BackendError):
    """The server answered 401 to a secret key: unknown, malformed or revoked."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=401)


class BackendUnreachable(AtmnError):
    """No answer: connection refused, DNS failure, TLS failure or timeout."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class TLSVerificationError(BackendUnreachable):
    """The server's certificate could not be verified against the trusted CAs."""


# --- signing in --------------------------------------------------------------------------


class OAuthFlowError(AtmnError):
    """The sign-in did not complete; the message says what the server or browser said."""


class PortsTakenError(AtmnError):
    """No callback port is free on loopback."""


class CallbackTimeout(AtmnError):
    """The browser (or a paste) did not answer in time."""


class AlreadySignedIn(AtmnError):
    """The user chose to keep the key that already works."""

    exit_code = 0


class RecoveryUnavailable(AtmnError):
    """Nobody can approve a new sign-in here, or recovery is turned off."""


class SignInFailed(AtmnError):
    """The sign-in was attempted but did not produce keys (denied, timed out, ...)."""


class OrganizationMismatch(AtmnError):
    """A new sign-in is for another organization than the key it replaces; its keys were
    revoked and nothing was written."""


# --- files -------------------------------------------------------------------------------


class EnvFileError(AtmnError):
    """A `.env` that cannot be read or safely rewritten; the file is left as it was."""


class MissingKeyError(AtmnError):
    """No key for the selected environment in the process environment or any `.env`."""
