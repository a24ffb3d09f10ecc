"""Where other readers disagree with python-dotenv, the writer still leaves a file they all
read the same way: Node's backtick quotes and `NAME: value`, a shell after a byte order
mark, and a missing final line break."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles.writer import update_env_file

SK = "am_sk_test_" + "Ab3" * 14
PK = "am_sk_live_" + "Zy9" * 14
OLD = "am_sk_test_" + "o1" * 21
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
OURS = ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY")


def node_values(env: Path) -> dict[str, str]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (scripts/test installs Node's dotenv where npm is)")
    if not (NODE_DIR / "node_modules" / "dotenv").is_dir():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            check=True,
            capture_output=True,
        )
    out = subprocess.run(
        ["node", str(NODE_DIR / "read-env.js"), str(env)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values: dict[str, str] = json.loads(out)
    return values


def shell_values(project: Path) -> list[str]:
    out = subprocess.run(
        ["sh", "-c", '. ./.env; printf "%s\\n%s" "$AUTUMN_SECRET_KEY" "$AUTUMN_PROD_SECRET_KEY"'],
        cwd=project,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    return out.stdout.split("\n")


BACKTICKS = "CERT=`-----BEGIN-----\nAUTUMN_SECRET_KEY=inside-the-cert\n-----END-----`\n"


def test_a_key_line_inside_a_backtick_value_is_left_to_it(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"AUTUMN_SECRET_KEY={OLD}\n{BACKTICKS}A=1\n")
    cert = node_values(env)["CERT"]
    assert "AUTUMN_SECRET_KEY=inside-the-cert" in cert

    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    # Node's value of CERT is whole; both readers read the new key
    assert node_values(env)["CERT"] == cert
    assert node_values(env)["AUTUMN_SECRET_KEY"] == SK
    assert dotenv_values(env)["AUTUMN_SECRET_KEY"] == SK
    assert env.read_text() == f"{BACKTICKS}A=1\nAUTUMN_SECRET_KEY={SK}\n"
    # python-dotenv read the line in the value as the key: it counts as replaced
    assert update.previous_all == {"AUTUMN_SECRET_KEY": [OLD, "inside-the-cert"]}

    again = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert not again.changed  # stable once the new line comes last

    update_env_file(env, remove=OURS)  # logout: the value's line stays, it is CERT's
    assert env.read_text() == f"{BACKTICKS}A=1\n"
    assert node_values(env)["CERT"] == cert


def test_the_colon_form_node_reads_is_replaced_and_removed(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"A=1\nAUTUMN_SECRET_KEY: {OLD}\nexport AUTUMN_PROD_SECRET_KEY: 'x y'\n")
    assert node_values(env)["AUTUMN_SECRET_KEY"] == OLD
    removed = update_env_file(env, remove=OURS)
    assert env.read_text() == "A=1\n"
    assert removed.removed == list(OURS)
    assert removed.previous_all == {
        "AUTUMN_SECRET_KEY": [OLD],
        "AUTUMN_PROD_SECRET_KEY": ["x y"],
    }  # what logout revokes

    env.write_text(f"AUTUMN_SECRET_KEY: {OLD}\nB=2\n")
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert env.read_text() == f"AUTUMN_SECRET_KEY={SK}\nB=2\n"
    assert node_values(env)["AUTUMN_SECRET_KEY"] == SK


@pytest.mark.parametrize(
    "before",
    ["\ufeff", f"\ufeffAUTUMN_SECRET_KEY={OLD}\nA=1\n", f"\ufeff  export AUTUMN_SECRET_KEY={OLD}"],
)
def test_a_key_is_never_written_on_the_line_of_a_byte_order_mark(
    tmp_path: Path, before: str
) -> None:
    env = tmp_path / ".env"
    env.write_text(before)
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK})
    text = env.read_text()
    assert text.startswith("\ufeff\n")  # the mark stays first, on a line of its own
    assert shell_values(tmp_path) == [SK, PK]
    assert dotenv_values(env)["AUTUMN_SECRET_KEY"] == SK
    assert node_values(env)["AUTUMN_SECRET_KEY"] == SK


@pytest.mark.parametrize("original", ["A=1", "# only a comment", "A=1\r\nB=2", "\ufeffA=1"])
def test_a_missing_final_line_break_stays_missing(tmp_path: Path, original: str) -> None:
    env = tmp_path / ".env"
    env.write_bytes(original.encode())
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK})
    assert not env.read_bytes().endswith((b"\n", b"\r"))
    assert shell_values(tmp_path) == [SK, PK]
    update_env_file(env, remove=OURS)
    assert env.read_bytes() == original.encode()


def test_a_marked_line_inside_the_file_is_node_s_definition_and_removed(tmp_path: Path) -> None:
    """Node's dotenv skips a U+FEFF at the start of a line (JavaScript's `\\s` matches it)
    and reads the key after it, where python-dotenv reads another name: logout removes
    both definitions (and revokes both keys), so no reader is left with a key."""
    env = tmp_path / ".env"
    env.write_text(f"AUTUMN_SECRET_KEY={OLD}\n\ufeffAUTUMN_SECRET_KEY={SK}\nA=1\n")
    assert node_values(env)["AUTUMN_SECRET_KEY"] == SK
    assert dotenv_values(env)["AUTUMN_SECRET_KEY"] == OLD

    removed = update_env_file(env, remove=OURS)

    assert removed.previous_all == {"AUTUMN_SECRET_KEY": [OLD, SK]}  # what logout revokes
    assert env.read_text() == "A=1\n"
    assert "AUTUMN_SECRET_KEY" not in node_values(env)
    assert "AUTUMN_SECRET_KEY" not in dotenv_values(env)

    env.write_text(f"A=1\n\ufeffAUTUMN_SECRET_KEY={OLD}\n")
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert env.read_text() == f"A=1\nAUTUMN_SECRET_KEY={SK}\n"
    assert node_values(env)["AUTUMN_SECRET_KEY"] == dotenv_values(env)["AUTUMN_SECRET_KEY"] == SK


def test_a_mark_inside_the_file_never_becomes_its_first_character(tmp_path: Path) -> None:
    """Removing the first line must not leave a U+FEFF from inside the file at its start,
    where python-dotenv would drop it and read the line after it anew."""
    env = tmp_path / ".env"
    env.write_text(f"AUTUMN_SECRET_KEY={OLD}\n\ufeffOTHER=1\n")
    before = dotenv_values(env)
    update_env_file(env, remove=OURS)
    assert not env.read_text().startswith("\ufeff")
    assert "OTHER" not in dotenv_values(env)  # it was "\ufeffOTHER" before, and still is
    assert dotenv_values(env) == {k: v for k, v in before.items() if k != "AUTUMN_SECRET_KEY"}
