"""`atmn keys list` against the real stand-in: what a person reads, `--json` as documented,
and one line for every case where there is nothing to list."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import atmn_auth.commands.keys_list as keys_list
from support.autumn_server import AutumnServer

from .keys_helpers import (
    Project,
    backdate,
    logged_in,
    new_project,
    no_whole_key,
    one_error_line,
    server_keys,
)


def rows(stdout: str) -> list[list[str]]:
    """The table's rows (after its header), as columns split on two or more spaces."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "NAME" in line and "LAST USED" in line)
    table = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        table.append(re.split(r"\s{2,}", line.strip()))
    return table


def test_the_organizations_keys_newest_first_with_this_projects_marked(
    server: AutumnServer, project: Project
) -> None:
    time.sleep(1.1)  # the stand-in keeps whole seconds: the dashboard key is newer
    server.create_key("acme", name="Deploy bot")
    server.create_key("acme", name="Live only", env="live")
    server.create_key("globex", name="Another organization")
    backdate(server, project.keys()["AUTUMN_SECRET_KEY"] or "", days=3)

    result = project.atmn("keys", "list")

    assert result.returncode == 0, result.stderr
    mine = project.keys()["AUTUMN_SECRET_KEY"] or ""
    assert f"keys of the organization of AUTUMN_SECRET_KEY (am_sk_test_…{mine[-4:]}" in (
        result.stdout
    )
    table = rows(result.stdout)
    names = [row[-6] for row in table]
    assert names[0] == "Deploy bot (sandbox)"  # newest first
    assert "Live only (live)" not in names and "Another organization (sandbox)" not in names
    marked = [row for row in table if row[0] == "*"]
    assert len(marked) == 1
    assert marked[0][1:6] == [
        f"atmn: project on {marked[0][1].split(' on ')[1].split(' (')[0]} (sandbox)",
        f"…{mine[-4:]}",
        "3 days ago",
        "just now",  # the listing itself used it
        "oauth",
    ]
    deploy = next(row for row in table if row[0] == "Deploy bot (sandbox)")
    assert deploy[2:5] == ["just now", "never", "dashboard"]
    assert f"* in {project.env_file}" in result.stdout
    assert result.stderr == ""
    assert no_whole_key(result.stdout)


def test_p_lists_the_live_keys(server: AutumnServer, project: Project) -> None:
    server.create_key("acme", name="Live deploy", env="live")
    result = project.atmn("-p", "keys", "list")
    assert result.returncode == 0, result.stderr
    labels = [row[-6] for row in rows(result.stdout)]
    assert "Live deploy (live)" in labels
    assert all(label.endswith("(live)") for label in labels)
    live = project.keys()["AUTUMN_PROD_SECRET_KEY"] or ""
    assert any(row[0] == "*" and row[2] == f"…{live[-4:]}" for row in rows(result.stdout))


def documented_fields() -> tuple[set[str], set[str]]:
    """The fields `commands/keys_list.py` documents for `atmn keys list --json`: the object's,
    and each key's."""
    doc = keys_list.__doc__ or ""
    section = doc.split("`atmn keys list --json` prints one object:", 1)[1]
    top = set(re.findall(r"^- `(\w+)`:", section, re.MULTILINE))
    per_key = set(re.findall(r"^  - `(\w+)`:", section, re.MULTILINE))
    return top, per_key


def test_json_has_exactly_the_documented_fields(server: AutumnServer, project: Project) -> None:
    server.create_key("acme", name="Deploy bot")
    result = project.atmn("keys", "list", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    top, per_key = documented_fields()
    assert len(top) == 8 and len(per_key) == 12  # the documentation was found
    assert set(data) == top
    assert data["environment"] == "sandbox"
    assert data["backend_url"] == server.url
    assert data["variable"] == "AUTUMN_SECRET_KEY"
    assert data["source"] == "dotenv"
    assert data["path"] == data["env_file"] == str(project.env_file)
    mine = project.keys()["AUTUMN_SECRET_KEY"] or ""
    assert data["key"] == f"am_sk_test_…{mine[-4:]}"
    for entry in data["keys"]:
        assert set(entry) == per_key
        assert entry["key"] == f"am_sk_test_…{entry['last4']}"
        assert entry["label"] == f"{entry['name']} (sandbox)"
        created = datetime.fromisoformat(entry["created_at"])
        assert entry["age_days"] == (datetime.now(UTC) - created).days
    (used,) = [entry for entry in data["keys"] if entry["in_use"]]
    assert used["in_env_file"] is True and used["last4"] == mine[-4:]
    assert used["age_days"] == 0
    assert used["created_via"] == "oauth" and used["last_used_at"] is not None
    deploy = next(entry for entry in data["keys"] if entry["name"] == "Deploy bot")
    assert deploy["created_via"] == "dashboard" and deploy["last_used_at"] is None
    assert deploy["in_env_file"] is False and deploy["in_use"] is False
    ids = {k["id"] for k in server_keys(server) if not k["revoked"]}
    assert {entry["id"] for entry in data["keys"]} <= ids
    assert no_whole_key(result.stdout)


def test_a_key_from_the_process_environment_lists_its_own_organization(
    server: AutumnServer, project: Project, tmp_path: Path
) -> None:
    """The key in force decides: the shell's key wins over the `.env` (the one rule)."""
    globex = server.create_key("globex", name="Globex CI")
    result = project.atmn("keys", "list", "--json", AUTUMN_SECRET_KEY=globex["key"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"] == "environment" and data["path"] is None
    names = [entry["name"] for entry in data["keys"]]
    assert names[0] == "Globex CI"
    assert not any(name.startswith("atmn: ") for name in names)  # the .env's organization's
    assert data["keys"][0]["in_use"] is True and data["keys"][0]["in_env_file"] is False


def test_without_a_key_there_is_nothing_to_ask_with(server: AutumnServer, tmp_path: Path) -> None:
    project = new_project(tmp_path, server)
    result = project.atmn("keys", "list")
    assert result.returncode == 1
    assert result.stdout == ""
    assert one_error_line(result) == (
        "no key to ask the server with: AUTUMN_SECRET_KEY is not set in the process "
        f"environment nor in {project.env_file}; run `atmn login` first"
    )


def test_a_revoked_key_in_force_is_one_line(server: AutumnServer, tmp_path: Path) -> None:
    project = logged_in(tmp_path, server)
    assert project.atmn("logout", "--keep-keys").returncode == 0
    revoked = server.create_key("acme", name="Soon gone")
    server.admin("keys", "revoke", "--last4", revoked["key"][-4:], check=True)
    result = project.atmn("keys", "list", AUTUMN_SECRET_KEY=revoked["key"])
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(
        f"the server rejected AUTUMN_SECRET_KEY (am_sk_test_…{revoked['key'][-4:]}"
    )
    assert line.endswith("it is unknown or revoked; run `atmn login` for new keys")
    assert len(result.stderr.splitlines()) == 1


DASHBOARD_KEYS = {
    False: "https://app.useautumn.com/sandbox/dev?tab=api_keys",
    True: "https://app.useautumn.com/dev?tab=api_keys",
}


def test_a_server_without_section_7_says_so_in_one_line(
    without_keys: AutumnServer, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, without_keys)
    for args in (["keys", "list"], ["keys", "list", "--json"], ["-p", "keys", "list"]):
        result = project.atmn(*args)
        assert result.returncode == 1, result.stderr
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"atmn: error: {without_keys.url} does not offer listing, naming or revoking keys "
            "from the command line (`atmn keys`); manage them in the Autumn dashboard: "
            f"{DASHBOARD_KEYS[args[0] == '-p']}"
        ]
