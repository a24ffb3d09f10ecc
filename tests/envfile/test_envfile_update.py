"""update_env_file on real files: what a user sees in their .env after atmn writes to it."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values

from atmn_auth.envfiles.reader import find_env_file, read_env
from atmn_auth.envfiles.writer import lock_path_for, restore_env_file, update_env_file
from atmn_auth.errors import EnvFileError

SK = "am_sk_test_" + "a1" * 21
SK2 = "am_sk_test_" + "b2" * 21
PK = "am_sk_live_" + "c3" * 21
OURS = ("AUTUMN_SECRET_KEY", "AUTUMN_PROD_SECRET_KEY")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_new_file_is_created_0600_with_bare_values(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    update = update_env_file(
        env, set_values={"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK}
    )
    assert update.created and update.added == list(OURS)
    assert env.read_bytes() == f"AUTUMN_SECRET_KEY={SK}\nAUTUMN_PROD_SECRET_KEY={PK}\n".encode()
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert read_env(env) == {"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK}


def test_existing_mode_is_kept(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", b"A=1\n")
    env.chmod(0o640)
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


def test_assignment_replaced_in_place_keeping_export_and_crlf(tmp_path: Path) -> None:
    env = write(
        tmp_path / ".env",
        b"# top \xc3\xa9\r\nexport AUTUMN_SECRET_KEY=old\r\nOTHER='x y'\r\n\r\n"
        b"invalid line here\r\nZ=1",
    )
    update = update_env_file(
        env, set_values={"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK}
    )
    assert update.replaced == ["AUTUMN_SECRET_KEY"] and update.added == ["AUTUMN_PROD_SECRET_KEY"]
    assert update.previous == {"AUTUMN_SECRET_KEY": "old"}
    assert env.read_bytes() == (
        b"# top \xc3\xa9\r\nexport AUTUMN_SECRET_KEY=" + SK.encode() + b"\r\nOTHER='x y'\r\n\r\n"
        b"invalid line here\r\nZ=1\r\nAUTUMN_PROD_SECRET_KEY=" + PK.encode()
    )  # no final line break, as before


def test_later_duplicates_removed_including_multiline_values(tmp_path: Path) -> None:
    env = write(
        tmp_path / ".env",
        b'AUTUMN_SECRET_KEY=first\nA=1\nAUTUMN_SECRET_KEY="multi\nline # not a comment\nvalue"\n'
        b"B=2\n  export AUTUMN_SECRET_KEY=third # comment\nC=3\n",
    )
    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert env.read_bytes() == f"AUTUMN_SECRET_KEY={SK}\nA=1\nB=2\nC=3\n".encode()
    assert update.previous == {"AUTUMN_SECRET_KEY": "third"}
    assert update.previous_all == {
        "AUTUMN_SECRET_KEY": ["first", "multi\nline # not a comment\nvalue", "third"]
    }


def test_line_python_dotenv_cannot_parse_but_others_would_read_is_replaced(tmp_path: Path) -> None:
    # Node's dotenv and a shell would both take this line as a (later) definition.
    env = write(tmp_path / ".env", b'A=1\nAUTUMN_SECRET_KEY="unterminated\nB=2\n')
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert env.read_bytes() == f"A=1\nAUTUMN_SECRET_KEY={SK}\nB=2\n".encode()


def test_remove_keeps_everything_else_and_reports_old_values(tmp_path: Path) -> None:
    original = (
        b"\xef\xbb\xbf# bom\nAUTUMN_SECRET_KEY="
        + SK.encode()
        + b"\n\nX=1\nAUTUMN_PROD_SECRET_KEY="
        + PK.encode()
    )
    env = write(tmp_path / ".env", original)
    update = update_env_file(env, remove=OURS)
    assert update.removed == list(OURS)
    assert update.previous == {"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK}
    assert env.read_bytes() == b"\xef\xbb\xbf# bom\n\nX=1"  # no final line break, as before


def test_nothing_written_when_nothing_changes(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"A=1\nAUTUMN_SECRET_KEY={SK}\n".encode())
    before = env.stat()
    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK}, remove=["NOT_THERE"])
    assert not update.changed and update.unchanged == ["AUTUMN_SECRET_KEY"]
    after = env.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Removing from a file that does not exist does not create it.
    missing = tmp_path / "sub"
    missing.mkdir()
    assert not update_env_file(missing / ".env", remove=OURS).changed
    assert not (missing / ".env").exists()


def test_same_value_but_noncanonical_line_is_rewritten(tmp_path: Path) -> None:
    # docker --env-file would read `SK # note` as the value: the line is normalised.
    env = write(tmp_path / ".env", f"AUTUMN_SECRET_KEY = {SK} # note\n".encode())
    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert update.replaced == ["AUTUMN_SECRET_KEY"]
    assert env.read_bytes() == f"AUTUMN_SECRET_KEY={SK}\n".encode()


@pytest.mark.parametrize(
    "value",
    ["has space", "quote'", 'dq"', "hash#", "$HOME", "back\\slash", "new\nline", "`cmd`", "~"],
)
def test_unsafe_values_refused_and_file_untouched(tmp_path: Path, value: str) -> None:
    env = write(tmp_path / ".env", b"A=1\n")
    with pytest.raises(EnvFileError, match="refusing to write AUTUMN_SECRET_KEY"):
        update_env_file(env, set_values={"AUTUMN_SECRET_KEY": value})
    assert env.read_bytes() == b"A=1\n"


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "A=B", "ÄB"])
def test_invalid_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(EnvFileError, match="not a valid environment variable name"):
        update_env_file(tmp_path / ".env", set_values={name: "x"})
    assert not (tmp_path / ".env").exists()


def test_symlink_updated_at_target_and_stays_a_symlink(tmp_path: Path) -> None:
    real_dir = tmp_path / "shared"
    real_dir.mkdir()
    target = write(real_dir / "real.env", b"A=1\n")
    target.chmod(0o644)
    project = tmp_path / "project"
    project.mkdir()
    link = project / ".env"
    link.symlink_to(Path("..") / "shared" / "real.env")
    update = update_env_file(link, set_values={"AUTUMN_SECRET_KEY": SK})
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "shared", "real.env")
    assert target.read_bytes() == f"A=1\nAUTUMN_SECRET_KEY={SK}\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert update.target == target.resolve()
    assert sorted(p.name for p in project.iterdir()) == [".env"]


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / ".env"
    link.symlink_to("secrets.env")
    update_env_file(link, set_values={"AUTUMN_SECRET_KEY": SK})
    assert link.is_symlink()
    assert (tmp_path / "secrets.env").read_text() == f"AUTUMN_SECRET_KEY={SK}\n"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    with pytest.raises(EnvFileError, match="is a FIFO"):
        update_env_file(fifo, set_values={"AUTUMN_SECRET_KEY": SK})
    with pytest.raises(EnvFileError, match="is a FIFO"):
        read_env(fifo)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_socket_and_device_are_refused(tmp_path: Path) -> None:
    sock_path = tmp_path / ".env"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(EnvFileError, match=r"(is a socket|cannot open)"):
            update_env_file(sock_path, set_values={"AUTUMN_SECRET_KEY": SK})
        assert stat.S_ISSOCK(sock_path.lstat().st_mode)
    link = tmp_path / "dev" / ".env"
    link.parent.mkdir()
    link.symlink_to("/dev/null")
    with pytest.raises(EnvFileError, match="is a device"):
        update_env_file(link, set_values={"AUTUMN_SECRET_KEY": SK})


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    with pytest.raises(EnvFileError, match="is a directory"):
        update_env_file(tmp_path / ".env", set_values={"AUTUMN_SECRET_KEY": SK})
    assert (tmp_path / ".env").is_dir() and not any((tmp_path / ".env").iterdir())


def test_not_utf8_is_refused_and_untouched(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", b"A=\xff\xfe\n")
    with pytest.raises(EnvFileError, match="not UTF-8"):
        update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert env.read_bytes() == b"A=\xff\xfe\n"


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError, match="does not exist"):
        update_env_file(tmp_path / "nope" / ".env", set_values={"AUTUMN_SECRET_KEY": SK})


def test_no_lock_or_temp_files_left_in_the_project(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", b"A=1\n")
    for value in (SK, SK2):
        update_env_file(env, set_values={"AUTUMN_SECRET_KEY": value})
    update_env_file(env, remove=OURS)
    assert [p.name for p in tmp_path.iterdir()] == [".env"]
    lock = lock_path_for(env)
    assert tmp_path not in lock.parents
    # One lock per real file: a symlink to the file shares its lock.
    (tmp_path / "link").symlink_to(env)
    assert lock_path_for(tmp_path / "link") == lock


def test_lock_dir_falls_back_when_cache_dir_is_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mkdir under a file fails
    env = tmp_path / ".env"
    update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert env.read_text() == f"AUTUMN_SECRET_KEY={SK}\n"
    assert blocker not in lock_path_for(env).parents


def test_find_env_file_walks_up_and_defaults_to_start(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    outside = [d / ".env" for d in tmp_path.parents if os.path.lexists(d / ".env")]
    assert find_env_file(deep) == (outside[0] if outside else deep / ".env")
    write(tmp_path / "a" / ".env", b"A=1\n")
    assert find_env_file(deep) == tmp_path / "a" / ".env"
    write(tmp_path / "a" / "b" / ".env", b"A=2\n")
    assert find_env_file(deep) == tmp_path / "a" / "b" / ".env"


def test_read_env_matches_python_dotenv(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", b"export A='1 2'\nB=\"x\\ny\"\nC # c\n")
    assert read_env(env) == dotenv_values(env)
    assert read_env(tmp_path / "missing.env") == {}


def test_restore_puts_the_original_bytes_back_exactly(tmp_path: Path) -> None:
    """What `atmn keys rotate` undoes: duplicates, Node's `NAME: value`, a line python-dotenv
    cannot parse, CRLF and a missing final line break come back as they were."""
    original = (
        f"\ufeffAUTUMN_SECRET_KEY={SK}\r\nA=1\nAUTUMN_SECRET_KEY={SK2}\n"
        f'AUTUMN_SECRET_KEY="unterminated\nAUTUMN_PROD_SECRET_KEY: {PK}'
    ).encode()
    env = write(tmp_path / ".env", original)
    env.chmod(0o640)
    update = update_env_file(
        env, set_values={"AUTUMN_SECRET_KEY": SK, "AUTUMN_PROD_SECRET_KEY": PK}
    )
    assert update.original == original and update.written == env.read_bytes() != original
    assert update.written is not None

    assert restore_env_file(env, expected=update.written, original=original) is True
    assert env.read_bytes() == original
    assert stat.S_IMODE(env.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [".env"]


def test_restore_leaves_a_file_changed_meanwhile_alone(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"AUTUMN_SECRET_KEY={SK}\n".encode())
    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK2})
    assert update.written is not None and update.original is not None
    changed = update.written + b"ADDED=1\n"
    env.write_bytes(changed)
    assert restore_env_file(env, expected=update.written, original=update.original) is False
    assert env.read_bytes() == changed
    env.unlink()  # gone meanwhile: not recreated
    assert restore_env_file(env, expected=update.written, original=update.original) is False
    assert not env.exists()


def test_restore_of_a_file_the_update_created_removes_it(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK})
    assert update.created and update.original is None and update.written is not None
    assert restore_env_file(env, expected=update.written, original=None) is True
    assert not env.exists()


def test_an_update_never_shows_keys_in_its_repr(tmp_path: Path) -> None:
    env = write(tmp_path / ".env", f"AUTUMN_SECRET_KEY={SK}\n".encode())
    update = update_env_file(env, set_values={"AUTUMN_SECRET_KEY": SK2})
    assert SK not in repr(update) and SK2 not in repr(update)
