"""`atmn keys rotate` when the new keys fail their check: the `.env` gets back exactly the
bytes it had (lines python-dotenv does not read included), and a `.env` something else
changed meanwhile is left alone, with the new keys in it not revoked.

A recording proxy in front of the real stand-in answers the check of the new keys
(`GET /v1/organization/me` with a key it just minted) with an error; everything else
goes through to the stand-in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from security.hostile_backend import HostileBackend, Recorded, json_reply
from support.autumn_server import AutumnServer

from .keys_helpers import (
    KEYS,
    OTHER_LINES,
    Project,
    assert_rotation_undone,
    me_status,
    minted_through,
    no_whole_key,
    one_error_line,
)

ME = "/v1/organization/me"


def fail_the_check(
    proxy: HostileBackend,
    meanwhile: Callable[[], None] | None = None,
    env_file: Path | None = None,
) -> None:
    """The server cannot check a newly minted key (503); `meanwhile` runs once first, as
    something else editing `env_file` between the rotation's write and its check (the
    first request with a new key once the file holds it)."""
    once = threading.Lock()

    def written() -> bool:
        text = env_file.read_text() if env_file is not None else ""
        return any(key in text for key in minted_through(proxy))

    def me(handler: object, request: Recorded) -> None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key not in minted_through(proxy):
            proxy.fallback(handler, request)  # type: ignore[arg-type]
            return
        if meanwhile is not None and written() and once.acquire(blocking=False):
            meanwhile()
        json_reply(503, {"message": "down for maintenance"})(handler, request)  # type: ignore[arg-type]

    proxy.on("GET", ME, me)


def test_lines_python_dotenv_does_not_read_come_back_byte_for_byte(
    server: AutumnServer, project: Project, proxy: HostileBackend
) -> None:
    """Duplicates, Node's `NAME: value`, an unparsable line, CRLF, no final line break:
    the undo restores the file's own bytes, not what python-dotenv read from it."""
    old = {var: project.keys()[var] for var in KEYS}
    other_sandbox = server.create_key("acme", name="Duplicate")["key"]
    other_live = server.create_key("acme", env="live", name="Node form")["key"]
    before = (
        OTHER_LINES
        + (
            f"AUTUMN_SECRET_KEY={other_sandbox}\r\n"
            f'AUTUMN_SECRET_KEY="unterminated\n'
            f"APP=1\n"
            f"AUTUMN_SECRET_KEY={old['AUTUMN_SECRET_KEY']}\n"
            f"AUTUMN_PROD_SECRET_KEY: {other_live}\n"
            f"AUTUMN_PROD_SECRET_KEY={old['AUTUMN_PROD_SECRET_KEY']}"
        ).encode()
    )
    project.env_file.write_bytes(before)
    fail_the_check(proxy)

    result = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)

    assert result.returncode == 1, result.stderr
    sandbox, live = minted_through(proxy)
    assert one_error_line(result) == (
        f"the new keys did not pass the check (the new sandbox key am_sk_test_…{sandbox[-4:]} "
        f"could not be checked: {ME} answered down for maintenance): the old keys are back in "
        f"{project.env_file} and still work; the new keys were revoked"
    )
    assert_rotation_undone(
        server.url, project, before, [other_sandbox, other_live, *old.values()], [sandbox, live]
    )
    assert no_whole_key(result.stdout, result.stderr)


def test_a_value_atmn_would_not_write_is_put_back_as_it_was(
    server: AutumnServer, project: Project, proxy: HostileBackend
) -> None:
    """`AUTUMN_SECRET_KEY=${OLD}` is refused by the writer, yet the rotation may replace it:
    the undo puts the line back as it was, since it puts back bytes, not values."""
    old = {var: project.keys()[var] for var in KEYS}
    before = (
        OTHER_LINES
        + (
            f"OLD={old['AUTUMN_SECRET_KEY']}\n"
            "AUTUMN_SECRET_KEY=${OLD}\n"
            f"AUTUMN_PROD_SECRET_KEY={old['AUTUMN_PROD_SECRET_KEY']}\n"
        ).encode()
    )
    project.env_file.write_bytes(before)
    fail_the_check(proxy)

    result = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)

    assert result.returncode == 1, result.stderr
    assert one_error_line(result).endswith(
        f"the old keys are back in {project.env_file} and still work; the new keys were revoked"
    )
    assert_rotation_undone(server.url, project, before, old.values(), minted_through(proxy))


def test_a_env_changed_meanwhile_is_left_alone_and_its_new_keys_kept(
    server: AutumnServer, project: Project, proxy: HostileBackend
) -> None:
    """Another writer edits the `.env` after the rotation wrote it: putting the old bytes
    back would lose that edit, and the file may use the new keys, so neither happens."""
    old = {var: project.keys()[var] for var in KEYS}

    def edit() -> None:
        with project.env_file.open("ab") as env:
            env.write(b"ADDED_MEANWHILE=1\n")

    fail_the_check(proxy, meanwhile=edit, env_file=project.env_file)

    result = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)

    assert result.returncode == 1, result.stderr
    sandbox, live = minted_through(proxy)
    assert one_error_line(result) == (
        f"the new keys did not pass the check (the new sandbox key am_sk_test_…{sandbox[-4:]} "
        f"could not be checked: {ME} answered down for maintenance), and {project.env_file} "
        "was changed meanwhile by something else, so atmn left it as it is: it holds "
        f"AUTUMN_SECRET_KEY=am_sk_test_…{sandbox[-4:]} (new) and "
        f"AUTUMN_PROD_SECRET_KEY=am_sk_live_…{live[-4:]} (new); neither the new keys nor the "
        "old ones were revoked"
    )
    assert project.keys() == {
        "DATABASE_URL": "postgres://localhost/app",
        "MODE": "dev",
        "AUTUMN_SECRET_KEY": sandbox,
        "AUTUMN_PROD_SECRET_KEY": live,
        "ADDED_MEANWHILE": "1",
    }
    for key in (sandbox, live, *old.values()):
        assert me_status(server.url, key or "") == 200
    assert no_whole_key(result.stdout, result.stderr)
