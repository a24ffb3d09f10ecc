"""Questions asked on a terminal, behind a small interface so tests can answer them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Prompter(Protocol):
    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        """Returns the value of the chosen (title, value) pair."""

    def confirm(self, message: str, default: bool) -> bool: ...


class QuestionaryPrompter:
    """The real thing: arrow-key menus on a terminal."""

    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        import questionary

        options = [questionary.Choice(title=title, value=value) for title, value in choices]
        answer = questionary.select(message, choices=options, default=default).ask()
        if answer is None:  # Ctrl-C inside questionary
            raise KeyboardInterrupt
        return str(answer)

    def confirm(self, message: str, default: bool) -> bool:
        import questionary

        answer = questionary.confirm(message, default=default).ask()
        if answer is None:
            raise KeyboardInterrupt
        return bool(answer)
