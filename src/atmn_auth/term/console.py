"""Where a flow talks and listens: the terminal for the CLI, something scripted in tests.

One rule says whether a person is here (`on_terminal`: standard input and standard
error are both terminals), and one factory builds the console for it
(`terminal_console`). Questions are drawn on standard error, so standard output stays
for results even when it is piped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TextIO

Opener = Callable[[str], bool]


class Prompter(Protocol):
    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        """Returns the value of the chosen (title, value) pair."""

    def confirm(self, message: str, default: bool) -> bool: ...


def _ignore(_: str) -> None:
    return None


def _no_live(_: str | None) -> None:
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
    #: A line redrawn in place (a wait with its time left); None clears it. Only a
    #: terminal has one (`live_updates`); elsewhere the flows print plain lines.
    live: Callable[[str | None], None] = field(default=_no_live)
    live_updates: bool = False

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


class LiveLine:
    """One line of `stream` redrawn in place; lines printed meanwhile go above it.

    It is redrawn with a carriage return and spaces, never an escape sequence, so it
    looks the same on every terminal and with `NO_COLOR`.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0  # of what is on the line now

    def _clear(self) -> str:
        return "\r" + " " * self.width + "\r" if self.width else ""

    def show(self, line: str | None) -> None:
        import shutil

        text = ""
        if line is not None:
            limit = max(shutil.get_terminal_size().columns - 1, 10)
            encoding = getattr(self.stream, "encoding", None) or "utf-8"
            text = line[:limit].encode(encoding, "replace").decode(encoding)
        self.stream.write(self._clear() + text)
        self.stream.flush()
        self.width = len(text)

    def print(self, text: str) -> None:
        self.stream.write(self._clear())
        self.width = 0  # the next tick draws it again, below
        print(wrapped(text), file=self.stream, flush=True)


def wrapped(text: str) -> str:
    """`text` wrapped at words to the terminal's width; an indented line (an address to
    copy) is left whole, so that it can be copied in one piece."""
    import shutil
    import textwrap

    width = max(shutil.get_terminal_size().columns, 40)
    if len(text) <= width or text.startswith(" "):
        return text
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def live_capable(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether `stream` is a terminal that can redraw a line (not `TERM=dumb`)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and environ.get("TERM", "") != "dumb"


def terminal_console(
    *, interactive: bool | None = None, debug: Callable[[str], None] | None = None
) -> Console:
    """The terminal: messages on stderr; prompts and pastes only when a person is here."""
    import os

    from atmn_auth.term.browser import open_in_browser

    person = on_terminal() if interactive is None else interactive and on_terminal()
    live = LiveLine(sys.stderr) if live_capable(sys.stderr, os.environ) else None
    return Console(
        info=live.print if live else _stderr,
        live=live.show if live else _no_live,
        live_updates=live is not None,
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

    @staticmethod
    def _discard_type_ahead() -> None:
        """Drops what was typed before the question appeared (text meant for a paste, say),
        so that it cannot move the menu or answer the question."""
        try:
            import termios

            if sys.stdin.isatty():
                termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
        except (ImportError, OSError, ValueError):
            pass

    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        import questionary

        self._discard_type_ahead()
        options = [questionary.Choice(title=title, value=value) for title, value in choices]
        answer = questionary.select(
            message, choices=options, default=default, output=self._output()
        ).ask()
        if answer is None:  # Ctrl-C inside questionary
            raise KeyboardInterrupt
        return str(answer)

    def confirm(self, message: str, default: bool) -> bool:
        import questionary

        self._discard_type_ahead()
        answer = questionary.confirm(message, default=default, output=self._output()).ask()
        if answer is None:
            raise KeyboardInterrupt
        return bool(answer)
