"""The one output every command and sign-in uses (`Console`), and the terminal's.

A console has two streams and a person, or not:

- results (`result`, `ok`) go to `out`: standard output, so that a script can read them;
- messages (`info`, plain) and `warn`/`error` (marked by `term.style.Style`) go to
  standard error, so that `atmn … > file` still shows them;
- questions (`asks`), the browser (`opener`), pasted answers (`paste_stream`) and a line
  redrawn in place (`live`) exist only where someone can answer.

One rule says whether a person is here (`on_terminal`: standard input and standard
error are both terminals), and one factory builds the console for it
(`terminal_console`). Questions are drawn on standard error, so standard output stays
for results even when it is piped. Tests build a `Console` with lists for its streams.

Only `sys`, `typing` and `term.style` are imported up front: `atmn env --offline` builds one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TextIO

from atmn_auth.term.style import Style

#: Opens an address in the person's browser; False when none could be opened.
Opener = Callable[[str], bool]


class Prompter(Protocol):
    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str | None) -> str:
        """Returns the value of the chosen (title, value) pair."""

    def confirm(self, message: str, default: bool) -> bool: ...


def _ignore(_: str) -> None:
    return None


def _no_live(_: str | None) -> None:
    return None


def emit(stream: TextIO | None, line: str) -> None:
    """`line` and a newline on `stream`, as `click.echo` writes them: nowhere when the
    stream is closed (None), escape sequences taken out when it is not a terminal, and
    UTF-8 when its own encoding cannot carry the text (an ASCII locale, say)."""
    if stream is None:
        return
    if "\x1b" in line and not _isatty(stream):
        import re

        line = re.sub(r"\x1b\[[;?0-9]*[a-zA-Z]", "", line)
    text = line + "\n"
    try:
        stream.write(text)
    except UnicodeEncodeError:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            raise
        stream.flush()
        buffer.write(text.encode("utf-8", "replace"))
    stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _stdout(line: str) -> None:
    emit(sys.stdout, line)


def _stderr(line: str) -> None:
    emit(sys.stderr, line)


class Console:
    """Where a command's lines go and whom it may ask. `interactive`: someone can answer.

    `out` takes results; `info` takes messages for the person (wrapped on a terminal);
    `err` takes lines already marked (`warn`, `error`), by default the same stream as
    `info`. `out_style` and `err_style` mark lines for each stream (plain by default).
    """

    __slots__ = (
        "debug",
        "err",
        "err_style",
        "info",
        "interactive",
        "live",
        "live_updates",
        "opener",
        "out",
        "out_style",
        "paste_stream",
        "prompter",
    )

    def __init__(
        self,
        *,
        out: Callable[[str], None] = _stdout,
        info: Callable[[str], None] = _stderr,
        err: Callable[[str], None] | None = None,
        interactive: bool = False,
        out_style: Style | None = None,
        err_style: Style | None = None,
        prompter: Prompter | None = None,
        opener: Opener | None = None,
        paste_stream: TextIO | None = None,
        debug: Callable[[str], None] = _ignore,
        live: Callable[[str | None], None] = _no_live,
        live_updates: bool = False,
    ) -> None:
        self.out = out
        self.info = info
        self.err = info if err is None else err
        self.interactive = interactive
        self.out_style = out_style or Style()
        self.err_style = err_style or Style()
        self.prompter = prompter
        self.opener = opener
        self.paste_stream = paste_stream
        self.debug = debug
        #: A line redrawn in place (a wait with its time left); None clears it. Only a
        #: terminal has one (`live_updates`); elsewhere the flows print plain lines.
        self.live = live
        self.live_updates = live_updates

    @property
    def asks(self) -> Prompter | None:
        """The prompter, when there is someone to answer it."""
        return self.prompter if self.interactive else None

    def messages_only(self) -> Console:
        """This console with its results on the message stream too, marked for it: for a
        command whose standard output carries one thing alone (`atmn keys create`)."""
        return Console(
            out=self.err,
            info=self.info,
            err=self.err,
            interactive=self.interactive,
            out_style=self.err_style,
            err_style=self.err_style,
            prompter=self.prompter,
            opener=self.opener,
            paste_stream=self.paste_stream,
            debug=self.debug,
            live=self.live,
            live_updates=self.live_updates,
        )

    def result(self, text: str) -> None:
        """A result, as it is, on `out`."""
        self.out(text)

    def ok(self, text: str) -> None:
        """`✓ text` on `out`."""
        self.out(self.out_style.ok(text))

    def warn(self, text: str) -> None:
        """`! text` on the message stream."""
        self.err(self.err_style.warn(text))

    def error(self, text: str) -> None:
        """`atmn: error: text` on the message stream."""
        self.err(self.err_style.error(text))


def on_terminal() -> bool:
    """Whether a person is probably at this process: stdin and stderr are both TTYs."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


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
        """`text` above the live line, wrapped to the terminal (`wrapped`)."""
        self.print_as_is(wrapped(text))

    def print_as_is(self, text: str) -> None:
        """`text` above the live line, as it is (already marked and wrapped)."""
        self.stream.write(self._clear())
        self.width = 0  # the next tick draws it again, below
        emit(self.stream, text)


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
    *,
    interactive: bool | None = None,
    debug: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Console:
    """The terminal: results on stdout; messages on stderr; prompts, pastes and a live
    line only when a person is here (`interactive=False` never asks). Lines are marked
    for each stream (`Style`: colour only on a terminal, without NO_COLOR)."""
    import os

    from atmn_auth.term.browser import open_in_browser

    env = os.environ if environ is None else environ
    person = on_terminal() if interactive is None else interactive and on_terminal()
    live = LiveLine(sys.stderr) if live_capable(sys.stderr, env) else None
    return Console(
        out=_stdout,
        info=live.print if live else _stderr,
        err=live.print_as_is if live else _stderr,
        out_style=Style(sys.stdout, env),
        err_style=Style(sys.stderr, env),
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
