"""Property: whatever else a .env holds, writing and removing our variables keeps it byte
for byte, a missing final line break included."""

from __future__ import annotations

import io
from pathlib import Path

from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atmn_auth.envfiles.writer import render_update, update_env_file

OURS = ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY")
NEW = {
    "AUTUMN_SECRET_KEY": "am_sk_test_" + "N" * 42,
    "AUTUMN_PROD_SECRET_KEY": "am_sk_live_" + "P" * 42,
}

_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x85\u2028\u2029"
    ),
    max_size=12,
)
_bare = st.text(alphabet="abcXYZ019_-./:@é€", min_size=0, max_size=10)
_other_names = st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True).filter(lambda n: n not in OURS)


def _value(nl: str) -> st.SearchStrategy[str]:
    return st.one_of(
        _bare,
        _bare.map(lambda v: f"'{v} x'"),
        _bare.map(lambda v: f'"{v} # not a comment"'),
        st.tuples(_bare, _bare).map(lambda p: f'"{p[0]}{nl}{p[1]}"'),  # multi-line value
    )


def _assignment(name: st.SearchStrategy[str], nl: str) -> st.SearchStrategy[str]:
    return st.tuples(
        st.sampled_from(["", "export ", "  ", "\t"]),
        name,
        st.sampled_from(["=", " = ", "= "]),
        _value(nl),
        st.sampled_from(["", " # a comment", "  #c"]),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}{t[3]}{t[4]}")


def _other_line(nl: str) -> st.SearchStrategy[str]:
    return st.one_of(
        _text.map(lambda t: f"# {t}"),  # comment
        st.sampled_from(["", "   ", "\t"]),  # blank
        _assignment(_other_names, nl),
        st.sampled_from(  # lines python-dotenv cannot parse
            [
                "this is not valid",
                "=no name",
                "A B C = d",
                "!!!",
                "#AUTUMN_SECRET_KEY=x",
                "AUTUMN_SECRET_KEYS=1",
                "MY_AUTUMN_PROD_SECRET_KEY=2",
                "AUTUMN_SECRET_KEY:x",
                "AUTUMN_SECRET_KEY:=x",
            ]
        ),
        # a value Node's dotenv quotes with backticks, holding what python-dotenv reads as
        # an assignment of ours: part of another variable for Node, so never touched
        _bare.map(lambda v: f"BT=`{v}{nl}AUTUMN_SECRET_KEY={v or 'x'}{nl}end`"),
        _other_names,  # a name with no value
    )


@st.composite
def env_files(draw: st.DrawFn) -> tuple[list[tuple[bool, str]], str]:
    """(chunks, line ending): each chunk is (is ours, its text including its line ending)."""
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    ours = st.one_of(
        _assignment(st.sampled_from(OURS), nl),
        st.sampled_from(OURS),
        # Node's `NAME: value`: python-dotenv cannot parse it, Node reads it
        st.tuples(st.sampled_from(OURS), _bare).map(lambda p: f"{p[0]}: {p[1]}"),
    )
    lines = draw(
        st.lists(
            st.one_of(_other_line(nl).map(lambda t: (False, t)), ours.map(lambda t: (True, t))),
            max_size=12,
        )
    )
    final_newline = draw(st.booleans())
    chunks = [(is_ours, text + nl) for is_ours, text in lines]
    if chunks and not final_newline:
        is_ours, text = chunks[-1]
        chunks[-1] = (is_ours, text[: -len(nl)])
    return chunks, nl


def _others(chunks: list[tuple[bool, str]]) -> str:
    """The chunks that are not ours; without a final line break when the file had none."""
    others = "".join(text for is_ours, text in chunks if not is_ours)
    original = "".join(text for _, text in chunks)
    if original and not original.endswith("\n"):
        others = (
            others[: -2 if others.endswith("\r\n") else -1] if others.endswith("\n") else others
        )
    return others


@settings(max_examples=150, deadline=None)
@given(env_files())
def test_removing_our_variables_keeps_every_other_line(
    sample: tuple[list[tuple[bool, str]], str],
) -> None:
    chunks, _ = sample
    original = "".join(text for _, text in chunks)
    new_text, update = render_update(original, {}, OURS)
    assert new_text == _others(chunks)
    assert update.removed == [
        n
        for n in OURS
        if any(o and t.lstrip().removeprefix("export ").startswith(n) for o, t in chunks)
    ]


@settings(max_examples=150, deadline=None)
@given(env_files())
def test_setting_then_removing_keeps_every_other_line(
    sample: tuple[list[tuple[bool, str]], str],
) -> None:
    chunks, _ = sample
    original = "".join(text for _, text in chunks)
    written, _ = render_update(original, NEW, ())

    read_back = dotenv_values(stream=io.StringIO(written))
    others_only = dotenv_values(stream=io.StringIO(_others(chunks)))
    assert read_back == {**others_only, **NEW}
    # Writing the same values again changes nothing.
    again, update = render_update(written, NEW, ())
    assert again == written and not update.changed

    removed, _ = render_update(written, {}, OURS)
    assert removed == _others(chunks)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(env_files())
def test_on_disk_the_bytes_are_the_same(
    tmp_path: Path, sample: tuple[list[tuple[bool, str]], str]
) -> None:
    chunks, _ = sample
    env = tmp_path / ".env"
    env.write_bytes("".join(text for _, text in chunks).encode())
    update_env_file(env, remove=OURS)
    assert env.read_bytes() == _others(chunks).encode()
