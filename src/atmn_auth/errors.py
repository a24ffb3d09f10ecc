"""The one exception type the CLI turns into a one-line error and an exit code."""

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


class UsageError(AtmnError):
    """Bad flags or a choice the user must make (exit code 2)."""

    exit_code = 2
