"""`atmn env` against the real stand-in: the key's name, age and last use where the server
offers §7 (asked at the same time as the key check), a rotation hint past
`ATMN_KEY_MAX_AGE_DAYS`, and nothing new where the server does not offer §7."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from security.hostile_backend import HostileBackend
from support.autumn_server import AutumnServer

from .keys_helpers import Project, backdate, logged_in

ROTATE_HINT = "older than 90 days; consider `atmn keys rotate`."


def field(stdout: str, name: str) -> str:
    prefix = f"{name}:"
    return next(
        line[len(prefix) :].strip() for line in stdout.splitlines() if line.startswith(prefix)
    )


def test_env_shows_the_keys_name_age_and_last_use(server: AutumnServer, project: Project) -> None:
    result = project.atmn("env")
    assert result.returncode == 0, result.stderr
    assert field(result.stdout, "Key name").startswith("atmn: project on ")
    assert field(result.stdout, "Key name").endswith(" (sandbox)")
    assert field(result.stdout, "Created").startswith("just now (20")
    assert field(result.stdout, "Created").endswith(", via oauth")
    assert field(result.stdout, "Last used") == "just now"
    assert "consider `atmn keys rotate`" not in result.stdout

    data = json.loads(project.atmn("-p", "env", "--json").stdout)
    details = data["key_details"]
    assert set(details) == {
        "id",
        "name",
        "label",
        "created_at",
        "last_used_at",
        "created_via",
        "age_days",
    }
    assert details["label"].endswith(" (live)") and details["age_days"] == 0
    assert details["created_via"] == "oauth" and details["id"].startswith("key_")


def test_an_old_key_gets_a_rotation_hint(server: AutumnServer, project: Project) -> None:
    backdate(server, project.keys()["AUTUMN_SECRET_KEY"] or "", days=100)
    result = project.atmn("env")
    assert result.returncode == 0  # still usable: a hint, not a failure
    assert field(result.stdout, "Created").startswith("3 months ago (")
    assert (
        f"! Warning: AUTUMN_SECRET_KEY was created 100 days ago: {ROTATE_HINT}"
        in result.stdout.splitlines()
    )
    data = json.loads(project.atmn("env", "--json").stdout)
    assert data["key_details"]["age_days"] == 100
    assert any(ROTATE_HINT in warning for warning in data["warnings"])

    relaxed = project.atmn("env", ATMN_KEY_MAX_AGE_DAYS="120")
    assert "consider `atmn keys rotate`" not in relaxed.stdout
    strict = project.atmn("env", ATMN_KEY_MAX_AGE_DAYS="30")
    assert "created 100 days ago: older than 30 days; consider `atmn keys rotate`." in strict.stdout
    live = project.atmn("-p", "env", ATMN_KEY_MAX_AGE_DAYS="30")  # the live key is new
    assert "consider" not in live.stdout


def test_a_bad_max_age_is_one_line_but_not_offline(server: AutumnServer, project: Project) -> None:
    result = project.atmn("env", ATMN_KEY_MAX_AGE_DAYS="ninety")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "atmn: error: ATMN_KEY_MAX_AGE_DAYS must be a number of days (0 or more), not 'ninety'"
    ]
    offline = project.atmn("env", "--offline", ATMN_KEY_MAX_AGE_DAYS="ninety")
    assert offline.returncode == 0
    assert "Key name:" not in offline.stdout


def test_a_server_without_section_7_changes_nothing(
    without_keys: AutumnServer, tmp_path: Path
) -> None:
    project = logged_in(tmp_path, without_keys)
    result = project.atmn("env")
    assert result.returncode == 0, result.stderr
    assert "Key name:" not in result.stdout and "Created:" not in result.stdout
    assert "Server:       accepted: organization Acme (acme)" in result.stdout.splitlines()
    assert json.loads(project.atmn("env", "--json").stdout)["key_details"] is None


def test_the_listing_is_asked_at_the_same_time_as_the_check(
    server: AutumnServer, project: Project
) -> None:
    """Neither call is answered until the other has reached the server: asked one after
    the other, the first would wait alone (and `atmn env` would pay two round trips)."""
    together = threading.Barrier(2, timeout=3)
    alone: list[str] = []

    def meet(handler: Any, request: Any) -> None:
        try:
            together.wait()
        except threading.BrokenBarrierError:
            alone.append(request.path)
        proxy.fallback(handler, request)

    with HostileBackend(upstream=server.url) as proxy:
        proxy.on("GET", "/v1/organization/me", meet)
        proxy.on("GET", "/cli/api-keys", meet)
        result = project.atmn("env", ATMN_BACKEND_URL=proxy.url)
    assert result.returncode == 0, result.stderr
    assert field(result.stdout, "Last used") == "just now"
    assert len(proxy.seen("GET", "/cli/api-keys")) == 1
    assert len(proxy.seen("GET", "/v1/organization/me")) == 1
    assert alone == [], f"{alone} reached the server while the other call was not under way"
