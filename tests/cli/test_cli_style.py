"""`atmn_auth.term.style`: marks, colour only on a terminal (and never with NO_COLOR or
TERM=dumb), wrapping that never breaks a word, a path or a URL."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from atmn_auth.term.console import Console
from atmn_auth.term.style import ERROR_PREFIX, Style, terminal_width, wants_color
from support.atmn_cli import ATMN, clean_env


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool = True, encoding: str = "utf-8") -> None:
        super().__init__()
        self._tty, self._encoding = tty, encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


TERM = {"TERM": "xterm-256color", "COLUMNS": "80"}


def test_marks_without_colour() -> None:
    style = Style()
    assert style.ok("Signed in to Acme (acme).") == "✓ Signed in to Acme (acme)."
    assert style.warn("Warning: .env is not ignored") == "! Warning: .env is not ignored"
    assert style.error("cannot reach x") == "atmn: error: cannot reach x"
    assert ERROR_PREFIX == "atmn: error:"


def test_a_pipe_gets_no_colour_and_no_wrapping() -> None:
    style = Style(FakeTerminal(tty=False), TERM)
    long = "word " * 60
    assert "\x1b" not in style.ok("x") + style.warn("x") + style.error("x")
    assert style.warn(long).count("\n") == 0


def test_a_terminal_gets_colour() -> None:
    style = Style(FakeTerminal(), TERM)
    assert style.ok("done") == "\x1b[32m✓\x1b[0m done"
    assert style.warn("careful") == "\x1b[33m!\x1b[0m careful"
    assert style.error("broken") == "atmn: \x1b[1;31merror:\x1b[0m broken"


@pytest.mark.parametrize(
    "environ",
    [{**TERM, "NO_COLOR": "1"}, {**TERM, "NO_COLOR": "0"}, {**TERM, "TERM": "dumb"}],
    ids=["NO_COLOR=1", "NO_COLOR=0", "TERM=dumb"],
)
def test_no_color_and_dumb_terminals_get_none(environ: dict[str, str]) -> None:
    stream = FakeTerminal()
    assert not wants_color(stream, environ)
    style = Style(stream, environ)
    assert "\x1b" not in style.ok("x") + style.warn("x") + style.error("x")


def test_an_empty_no_color_is_unset() -> None:  # https://no-color.org
    assert wants_color(FakeTerminal(), {**TERM, "NO_COLOR": ""})


def test_the_environment_passed_in_is_the_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "300")
    style = Style(FakeTerminal(), {"TERM": "xterm", "COLUMNS": "50"})
    assert style.color and style.width == 50


def test_width_is_at_least_40() -> None:
    assert terminal_width(FakeTerminal(), {"COLUMNS": "12"}) == 40
    assert terminal_width(FakeTerminal(), {"COLUMNS": "132"}) == 132


def test_wrapping_keeps_paths_urls_and_words_whole() -> None:
    url = "https://api.useautumn.com/api/auth/oauth2/authorize?response_type=code&client_id=x"
    path = "/home/ada/projects/some-very-long-directory-name/with-hyphens/.env"
    text = f"Warning: {path} is not ignored by git; see {url} for what-to-do next."
    style = Style(FakeTerminal(), {"TERM": "xterm", "COLUMNS": "40"}, color=False)
    lines = style.warn(text).split("\n")
    assert lines[0].startswith("! Warning:")
    assert all(line.startswith("  ") and not line.startswith("   ") for line in lines[1:])
    assert path in lines[1] or path in lines[0]
    assert any(url in line for line in lines)  # longer than the width, yet whole
    assert all(len(line) <= 40 for line in lines if url not in line and path not in line)
    assert " ".join(" ".join(lines).split()) == f"! {text}"
    assert "what-to-do" in " ".join(lines)  # not broken on its hyphens


def test_wrapped_errors_indent_under_the_message() -> None:
    style = Style(FakeTerminal(), {"COLUMNS": "40"}, color=True)
    lines = style.error("the server refused the sign-in (invalid_grant: code expired)").split("\n")
    assert lines[0].startswith("atmn: \x1b[1;31merror:\x1b[0m the server")
    assert all(line.startswith(" " * 13) and line[13] != " " for line in lines[1:])
    assert len(lines) > 1


def test_a_stream_that_cannot_show_the_check_mark_gets_ascii() -> None:
    assert Style(FakeTerminal(tty=False, encoding="ascii")).ok("done") == "OK done"


def test_the_console_routes_results_and_warnings() -> None:
    out: list[str] = []
    err: list[str] = []
    output = Console(out=out.append, info=err.append)
    output.ok("Signed in.")
    output.result("Updated .env:")
    output.warn("Warning: careful")
    output.error("broken")
    assert out == ["✓ Signed in.", "Updated .env:"]
    assert err == ["! Warning: careful", "atmn: error: broken"]


def test_style_imports_nothing_heavy() -> None:
    probe = (
        "import sys; import atmn_auth.term.style; "
        "print(sorted(m for m in ('click', 'textwrap', 'shutil', 'dataclasses') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


# ---------------------------------------------------------------- on a real terminal


def on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> bytes:
    """What `atmn` writes when stdout and stderr are a pseudo-terminal."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(ATMN, args, cwd=str(cwd), env=env, timeout=30)
    data: bytes = child.read()
    child.close()
    return data


@pytest.mark.skipif(os.name == "nt", reason="needs a pty")
@pytest.mark.parametrize(
    ("extra", "coloured"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)],
    ids=["colour", "NO_COLOR=1", "TERM=dumb"],
)
def test_errors_on_a_terminal(extra: dict[str, str], coloured: bool, tmp_path: Path) -> None:
    env = clean_env(tmp_path, **{"TERM": "xterm-256color", "COLUMNS": "80", **extra})
    data = on_a_terminal(["logni"], env, tmp_path)
    assert b"no command 'logni'; did you mean 'login'?" in data
    assert (b"\x1b" in data) is coloured
    assert data.startswith(b"atmn: ")


@pytest.mark.skipif(os.name == "nt", reason="needs a pty")
@pytest.mark.parametrize("extra", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "dumb"])
@pytest.mark.parametrize(
    "args", [["--help"], ["env", "--offline"], ["status", "--offline"], ["version"], ["-x"]]
)
def test_no_escape_sequences_when_colour_is_off(
    args: list[str], extra: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("AUTUMN_SECRET_KEY=not-a-key\n")
    env = clean_env(tmp_path, **{"TERM": "xterm-256color", **extra})
    env["AUTUMN_PROD_SECRET_KEY"] = "am_sk_live_" + "b2" * 21  # a warning in `env`
    data = on_a_terminal(args, env, tmp_path)
    assert data
    assert b"\x1b" not in data
