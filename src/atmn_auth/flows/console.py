"""Where a flow talks and listens: the terminal for the CLI, something scripted in tests.

One rule says whether a person is here (`on_terminal`: standard input and standard
error are both terminals), and one factory builds the console for it
(`terminal_console`). Questions are drawn on standard error, so standard output stays
for results even when it is piped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TextIO

Opener = Callable[[str], bool]


class Prompter(Protocol):
    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        """Returns the value of the chosen (title, value) pair."""

    def confirm(self, message: str, default: bool) -> bool: ...


def _ignore(_: str) -> None:
    return None


@dataclass
class Console:
    """The person's side of a flow. `interactive` is whether someone can answer."""

    info: Callable[[str], None]
    interactive: bool
    prompter: Prompter | None = None
    opener: Opener | None = None
    paste_stream: TextIO | None = None
    debug: Callable[[str], None] = field(default=_ignore)

    @property
    def asks(self) -> Prompter | None:
        """The prompter, when there is someone to answer it."""
        return self.prompter if self.interactive else None


def on_terminal() -> bool:
    """Whether a person is probably at this process: stdin and stderr are both TTYs."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def terminal_console(
    *, interactive: bool | None = None, debug: Callable[[str], None] | None = None
) -> Console:
    """The terminal: messages on stderr; prompts and pastes only when a person is here."""
    from atmn_auth.oauth.browser import open_in_browser

    person = on_terminal() if interactive is None else interactive and on_terminal()
    return Console(
        info=_stderr,
        interactive=person,
        prompter=QuestionaryPrompter() if person else None,
        opener=open_in_browser,
        paste_stream=sys.stdin if person else None,
        debug=debug or _ignore,
    )


class QuestionaryPrompter:
    """The real thing: arrow-key menus on the terminal, drawn on standard error."""

    @staticmethod
    def _output() -> object:
        from prompt_toolkit.output import create_output

        return create_output(stdout=sys.stderr)

    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        import questionary

        options = [questionary.Choice(title=title, value=value) for title, value in choices]
        answer = questionary.select(
            message, choices=options, default=default, output=self._output()
        ).ask()
        if answer is None:  # Ctrl-C inside questionary
            raise KeyboardInterrupt
        return str(answer)

    def confirm(self, message: str, default: bool) -> bool:
        import questionary

        answer = questionary.confirm(message, default=default, output=self._output()).ask()
        if answer is None:
            raise KeyboardInterrupt
        return bool(answer)
