"""`atmn keys list` and `atmn keys revoke` on a real pseudo-terminal: what a person sees,
and the question before a key this project uses is revoked."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect

from support.atmn_cli import ATMN
from support.autumn_server import AutumnServer

from .keys_helpers import Project, me_status


def spawn(project: Project, *args: str, **extra: str) -> pexpect.spawn:
    env = {**project.env, "TERM": "xterm", "COLUMNS": "120", "LINES": "40", **extra}
    return pexpect.spawn(
        ATMN,
        list(args),
        cwd=str(project.dir),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )


def screen(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before or "").replace("\r\n", "\n")


def test_the_list_on_a_terminal(server: AutumnServer, project: Project) -> None:
    server.create_key("acme", name="Deploy bot")
    child = spawn(project, "keys", "list")
    seen = screen(child)
    assert child.exitstatus == 0
    lines = seen.splitlines()
    mine = project.keys()["AUTUMN_SECRET_KEY"] or ""
    assert lines[0] == (
        f"Sandbox keys of the organization of AUTUMN_SECRET_KEY (am_sk_test_…{mine[-4:]}, "
        f"from {project.env_file}), newest first:"
    )
    header = next(line for line in lines if "NAME" in line)
    assert re.fullmatch(r" +NAME +KEY +CREATED +LAST USED +VIA +ID", header)
    row = next(line for line in lines if line.startswith("*"))
    # each column starts where its heading does
    for heading, value in (("KEY", f"…{mine[-4:]}"), ("CREATED", "just now"), ("VIA", "oauth")):
        assert row.index(value) == header.index(heading), (row, header)
    assert lines[-1] == f"* in {project.env_file}"


def test_revoking_the_key_in_force_asks_first(server: AutumnServer, project: Project) -> None:
    mine = project.keys()["AUTUMN_SECRET_KEY"] or ""

    child = spawn(project, "keys", "revoke", mine[-4:])
    child.expect(r"Warning: .*revoking it breaks this project")
    child.expect(r"Revoke .* anyway\?")
    child.send("n")
    seen = screen(child)
    assert child.exitstatus == 0
    assert "Kept it; nothing was revoked." in seen
    assert me_status(server.url, mine) == 200

    child = spawn(project, "keys", "revoke", mine[-4:])
    child.expect(r"Revoke .* anyway\?")
    child.send("y")
    seen = screen(child)
    assert child.exitstatus == 0
    assert 'Revoked "atmn: project on' in seen and f"am_sk_test_…{mine[-4:]}" in seen
    assert re.search(r"no longer\s+works", seen)  # wrapped to the terminal's width
    assert me_status(server.url, mine) == 401


def test_a_key_nobody_here_uses_is_revoked_without_a_question(
    server: AutumnServer, project: Project, tmp_path: Path
) -> None:
    other = server.create_key("acme", name="Old laptop")
    child = spawn(project, "keys", "revoke", "Old laptop")
    seen = screen(child)
    assert child.exitstatus == 0
    assert "anyway?" not in seen
    assert re.search(r'✓.* Revoked "Old laptop \(sandbox\)"', seen)
    assert me_status(server.url, other["key"]) == 401
