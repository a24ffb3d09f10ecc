"""The reader's own grammar is python-dotenv's: the same pieces, keys, values and errors as
`dotenv.parser.parse_stream`, the same values as `dotenv_values` (interpolation included),
and the quick search for the two keys finds exactly the bindings a full parse finds,
whatever quotes, backslashes and line ends come before them. And it is quick: a
100,000-line file costs about what a 100-line one does."""

from __future__ import annotations

import io
import os
import time

import pytest
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from hypothesis import example, given, settings
from hypothesis import strategies as st

from atmn_auth.envfiles import grammar
from atmn_auth.envfiles.reader import parse_keys

OURS = ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY")
PIECES = st.sampled_from(
    [
        *("\n", "\n", "\r\n", "\r", "A=", "B=", "AUTUMN_SECRET_KEY=", "AUTUMN_PROD_SECRET_KEY"),
        *("'", '"', "\\", " ", "\t", "#", "x", "=", "export ", "${A}", "${B:-d}", "`", ":"),
        *("'AUTUMN_SECRET_KEY'=", "\x0b", "\x1c", "\ufeff", "é", "AUTUMN_SECRET_KEY: "),
    ]
)
TEXTS = st.lists(PIECES, max_size=60).map("".join)


def theirs(text: str) -> list[tuple[str | None, str | None, str, bool]]:
    return [(b.key, b.value, b.original.string, b.error) for b in parse_stream(io.StringIO(text))]


@settings(max_examples=1500, deadline=None)
@given(TEXTS)
@example('A="x\nAUTUMN_SECRET_KEY=inside\n"\nAUTUMN_SECRET_KEY=real')
@example('\'A\nAUTUMN_SECRET_KEY\'=x\nAUTUMN_SECRET_KEY="y\\"\n"')
def test_the_pieces_are_python_dotenvs(text: str) -> None:
    body = text.removeprefix("\ufeff")
    ours = [(f.key, f.value, body[f.start : f.end], f.error) for f in grammar.bindings(body)]
    assert ours == theirs(text)


@settings(max_examples=1500, deadline=None)
@given(TEXTS, st.sampled_from([grammar.BUDGET, 1]))
@example('A="\nAUTUMN_SECRET_KEY=in\n" junk\nAUTUMN_SECRET_KEY=${A}', grammar.BUDGET)
def test_the_keys_are_what_dotenv_values_reads(text: str, budget: int) -> None:
    """Budget 1 forces the walk through the whole file, which must agree too."""
    os.environ["B"] = "from the environment"
    saved, grammar.BUDGET = grammar.BUDGET, budget
    try:
        expected = dotenv_values(stream=io.StringIO(text))
        ours = {n: expected[n] for n in OURS if n in expected}
        assert parse_keys(text, OURS) == ours
        if text.isascii():  # what read_keys does with an ASCII file: its bytes, undecoded
            assert parse_keys(text.encode(), OURS) == ours
        assert grammar.parse_all(text) == expected
    finally:
        grammar.BUDGET = saved
        del os.environ["B"]


def _big(lines: int) -> str:
    """A realistic file: comments (with apostrophes), quoted values, multi-line values,
    exports; the keys at the end."""
    out = []
    for n in range(lines - 2):
        kind = n % 10
        if kind == 0:
            out.append(f"# section {n}: don't edit by hand")
        elif kind in (1, 6):
            out.append(f'QUOTED_{n}="value {n} with spaces" # it\'s quoted')
        elif kind == 2:
            out.append(f"SINGLE_{n}='single {n}'")
        elif kind == 3 and n % 1000 == 3:
            out.append(f'MULTI_{n}="line one\nAUTUMN_SECRET_KEY=not-a-key\nend"')
        elif kind == 5:
            out.append(f"export PLAIN_{n}=value-{n}")
        else:
            out.append(f"VAR_{n}=value-{n}-abcdefghijklmnopqrstuvwxyz")
    out += ["AUTUMN_SECRET_KEY=am_sk_test_" + "x" * 42, "AUTUMN_PROD_SECRET_KEY=am_sk_live_y"]
    return "\n".join(out) + "\n"


def _best_ms(text: str) -> float:
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        parse_keys(text, OURS)
        best = min(best, (time.perf_counter() - began) * 1000)
    return best


def test_finding_the_keys_does_not_grow_with_the_file() -> None:
    small, big = _big(100), _big(100_000)
    assert parse_keys(big, OURS) == {
        "AUTUMN_SECRET_KEY": "am_sk_test_" + "x" * 42,
        "AUTUMN_PROD_SECRET_KEY": "am_sk_live_y",
    }
    medium = _big(2_000)  # python-dotenv itself is quadratic: minutes on the big one
    assert parse_keys(medium, OURS) == {
        n: v for n, v in dotenv_values(stream=io.StringIO(medium)).items() if n in OURS
    }
    # python-dotenv takes minutes on this file; the whole-file walk, a fraction of a second
    if _best_ms(big) > 50:
        pytest.fail(f"100,000 lines took {_best_ms(big):.1f} ms (100 lines: {_best_ms(small):.2f})")
