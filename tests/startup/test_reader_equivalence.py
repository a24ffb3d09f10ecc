"""The `.env` reader's own pass over simple files gives what python-dotenv gives.

`atmn_auth.envfiles.reader.parse_env` reads files made of blank lines, comments and
plain `[export ]NAME=value` lines itself (no `dotenv` import, one pass), and hands
anything else to `dotenv_values`; here hypothesis mixes simple lines with every kind of
line python-dotenv treats specially, and the two must agree on every text.
"""

from __future__ import annotations

import io

from dotenv import dotenv_values
from hypothesis import example, given, settings
from hypothesis import strategies as st

from atmn_auth.envfiles.reader import parse_env, parse_simple

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True) | st.sampled_from(
    ["export", "AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY", "A", "_"]
)
BLANKS = st.text(alphabet=" \t", max_size=3)
VALUE_CHARS = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\n\r\"'\\$#"
).filter(lambda c: not c.isspace())
WORDS = st.text(alphabet=VALUE_CHARS, min_size=1, max_size=6)
VALUES = st.lists(st.tuples(WORDS, BLANKS.filter(bool)), max_size=3).map(
    lambda parts: "".join(w + b for w, b in parts).rstrip(" \t")
)


@st.composite
def simple_lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["assign", "assign", "assign", "comment", "blank"]))
    lead = draw(BLANKS)
    if kind == "blank":
        return lead
    if kind == "comment":
        return lead + "#" + draw(st.text(alphabet=VALUE_CHARS | st.just(" "), max_size=8))
    export = draw(st.sampled_from(["", "", "export ", "export\t", "export  "]))
    name = draw(NAMES)
    # `export =1` is python-dotenv's error line (the word taken as the prefix), not simple
    before = "" if name == "export" and not export else draw(BLANKS)
    return f"{lead}{export}{name}{before}={draw(BLANKS)}{draw(VALUES)}{draw(BLANKS)}"


#: Lines and fragments python-dotenv treats specially (or fails on).
TRICKY = st.sampled_from(
    [
        'A="quoted value"',
        "A='single # quoted'",
        'A="multi\nline"',
        "A=value # comment",
        "A=value#not-a-comment",
        "A=$OTHER",
        "A=${HOME}",
        "A=back\\slash",
        "A",
        "A B",
        "export =1",
        "export",
        "export A",
        "=value",
        "A.B=1",
        "A-B=1",
        "'A'=1",
        "\ufeffA=1",
        "A=1\r",
        "\r",
        "A=\x0bx",
        "A=x\x85y",
        "A=x\u2028y",
        "A=x\xa0",
        "\x0c",
        "A=é ü",
        "A=\x00",
        "  # only a comment",
        "A = spaced = value",
    ]
)
LINES = st.one_of(simple_lines(), simple_lines(), simple_lines(), TRICKY)


def dotenv(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=io.StringIO(text)))


def texts(lines: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.lists(lines, max_size=12), st.sampled_from(["", "\n", "\n\n"])).map(
        lambda parts: "\n".join(parts[0]) + parts[1]
    )


@settings(max_examples=600, deadline=None)
@given(texts(LINES))
@example("")
@example("\n")
@example("export export=1")
@example("export\texport = x y ")
@example("A=1\nA=2\nB=\n")
def test_parse_env_is_dotenv_values(text: str) -> None:
    assert parse_env(text) == dotenv(text)


@settings(max_examples=600, deadline=None)
@given(texts(simple_lines()))
def test_simple_files_are_read_without_dotenv(text: str) -> None:
    values = parse_simple(text)
    assert values is not None, "a simple file must take the quick path"
    assert values == dotenv(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("AB_=x #'\"$\\\t\r\n\x0b\ufeffexport "), max_size=40))
def test_any_text_over_a_small_alphabet(text: str) -> None:
    simple = parse_simple(text)
    if simple is not None:
        assert simple == dotenv(text)
    assert parse_env(text) == dotenv(text)


def test_a_big_simple_file_takes_the_quick_path() -> None:
    lines = [f"# section {i}\nVAR_{i}=value-{i} with words" for i in range(5_000)]
    text = "\n".join(lines) + "\nAUTUMN_SECRET_KEY=am_sk_test_x\n"
    values = parse_simple(text)
    assert values is not None
    assert values == dotenv(text)
    assert values["AUTUMN_SECRET_KEY"] == "am_sk_test_x"
