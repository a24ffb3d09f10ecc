"""`atmn keys rotate` killed between its write and the old keys' revocation: the file holds
the new keys while the old pair is valid and held nowhere. The next `atmn env` says so,
and the next `atmn keys rotate` in that project revokes them first."""

from __future__ import annotations

import subprocess
import threading

from security.hostile_backend import HostileBackend, Recorded
from support.atmn_cli import ATMN
from support.autumn_server import AutumnServer

from .keys_helpers import KEYS, Project, me_status, minted_through, no_whole_key

ME = "/v1/organization/me"


def kill_after_the_write(project: Project, proxy: HostileBackend) -> dict[str, str | None]:
    """Runs `atmn keys rotate` through `proxy`, which holds the check of a new key (made
    once the file holds it) until the rotation is killed; returns the keys it replaced."""
    old = {var: project.keys()[var] for var in KEYS}
    checking = threading.Event()

    def hold(handler: object, request: Recorded) -> None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key in minted_through(proxy) and key in project.env_file.read_text():
            checking.set()
            while not proxy.stopping.wait(0.05):
                pass
            return
        proxy.fallback(handler, request)  # type: ignore[arg-type]

    proxy.on("GET", ME, hold)
    rotation = subprocess.Popen(
        [ATMN, "keys", "rotate"],
        cwd=project.dir,
        env={**project.env, "ATMN_BACKEND_URL": proxy.url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert checking.wait(60), "the rotation never reached its check"
        rotation.kill()  # SIGKILL: nothing of atmn runs after this
    finally:
        rotation.kill()
        rotation.wait()
    new = project.keys()
    assert all(new[var] != old[var] for var in KEYS), "the new keys were not written"
    return old


def test_the_next_rotation_revokes_what_a_killed_one_left_working(
    server: AutumnServer, project: Project
) -> None:
    with HostileBackend(upstream=server.url) as proxy:
        old = kill_after_the_write(project, proxy)
        proxy.routes.pop(("GET", ME))  # the server answers again, on the same address
        for key in old.values():
            assert me_status(server.url, key or "") == 200  # valid, and in no file

        env = project.atmn("env", ATMN_BACKEND_URL=proxy.url)
        assert env.returncode == 0, env.stderr
        said = " ".join((env.stdout + env.stderr).split())
        assert "was cut short after writing the new keys" in said
        assert "`atmn keys rotate` to finish it" in said

        again = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)
        assert again.returncode == 0, again.stderr
        for key in old.values():
            assert key is not None
            assert f"revoked the old key {key[:11]}…{key[-4:]}" in again.stderr
            assert me_status(server.url, key) == 401
        assert no_whole_key(again.stdout, again.stderr, env.stdout, env.stderr)

        later = project.atmn("env", ATMN_BACKEND_URL=proxy.url)
        assert "cut short" not in later.stdout + later.stderr  # finished: nothing to say


def test_a_rotation_that_ends_normally_leaves_nothing_pending(
    server: AutumnServer, project: Project
) -> None:
    result = project.atmn("keys", "rotate")
    assert result.returncode == 0, result.stderr
    pending = project.home / ".local" / "state" / "atmn" / "pending-rotations"
    assert not pending.exists() or list(pending.iterdir()) == []
    after = project.atmn("env")
    assert "cut short" not in after.stdout + after.stderr


def test_the_record_is_private(server: AutumnServer, project: Project) -> None:
    """It holds the old keys (revoking needs them), as the .env did: 0600 in a 0700
    directory."""
    with HostileBackend(upstream=server.url) as proxy:
        kill_after_the_write(project, proxy)
    pending = project.home / ".local" / "state" / "atmn" / "pending-rotations"
    records = list(pending.iterdir())
    assert len(records) == 1
    assert pending.stat().st_mode & 0o777 == 0o700
    assert records[0].stat().st_mode & 0o777 == 0o600
