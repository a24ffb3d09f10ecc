"""A full disk, or a file system that is (or turns) read-only: `atmn login` says so in one
line, exits 1, and loses nothing: the `.env` is byte for byte as it was, no temporary file
is left, and keys minted for a file that could not be written are revoked.

The disk is a real tmpfs of 64 KiB (mounting one needs root, which the test container
has); a read-only directory without root is the same check through permissions.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from security.cli import Running, cli_env, error_line, run_atmn
from security.conftest import ENV_BEFORE
from security.hostile_backend import HostileBackend

LOGIN = ["login", "--org", "acme", "--force", "--timeout", "20"]


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, unmounted afterwards; skipped where mounting is not allowed."""
    point = tmp_path / "disk"
    point.mkdir()
    done = mount("-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(point))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=10)


def project_on(disk: Path, tmp_path: Path) -> tuple[Path, Path]:
    project, home = disk / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    (project / ".env").write_bytes(ENV_BEFORE)
    return project, home


def fill(disk: Path) -> None:
    """Writes until the file system has no space left."""
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC


def assert_nothing_lost(project: Path, backend: HostileBackend) -> None:
    assert (project / ".env").read_bytes() == ENV_BEFORE
    assert sorted(p.name for p in project.iterdir()) == [".env"]
    assert backend.handed.keys, "the login did get as far as minting"
    assert sorted(backend.revoked_keys) == sorted(backend.handed.keys)
    assert sorted(backend.revoked_tokens) == sorted(backend.handed.refresh_tokens)


def test_a_full_disk_loses_nothing_and_revokes_the_new_keys(
    small_disk: Path, tmp_path: Path, hostile: HostileBackend
) -> None:
    project, home = project_on(small_disk, tmp_path)
    fill(small_disk)
    result = run_atmn(LOGIN, cwd=project, env=cli_env(home, hostile.url))
    assert result.returncode == 1, result.stderr
    line = error_line(result)
    assert "no space left on device" in line
    assert "the keys just minted were revoked" in line
    assert_nothing_lost(project, hostile)


def test_a_disk_turned_read_only_during_sign_in_loses_nothing(
    small_disk: Path, tmp_path: Path, hostile: HostileBackend
) -> None:
    project, home = project_on(small_disk, tmp_path)
    running = Running(
        [*LOGIN, "--no-browser"], cwd=project, env=cli_env(home, hostile.url, browser=False)
    )
    try:
        url = running.sign_in_url()
        running.read_until(r"^Waiting up to")
        remounted = mount("-o", "remount,ro", str(small_disk))
        assert remounted.returncode == 0, remounted.stderr
        assert httpx2.get(url, follow_redirects=True).status_code == 200  # the person approves
        code, _, err = running.finish()
    finally:
        running.kill()
    assert code == 1, err
    line = err.rstrip().rsplit("\n", 1)[-1]
    assert line.startswith("atmn: error: ") and "read-only" in line
    assert "the keys just minted were revoked" in line
    assert_nothing_lost(project, hostile)


def test_a_read_only_directory_is_refused_before_signing_in(
    tmp_path: Path, hostile: HostileBackend
) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    (project / ".env").write_bytes(ENV_BEFORE)
    if os.geteuid() == 0:  # root ignores permissions: make the directory a read-only mount
        if mount("--bind", str(project), str(project)).returncode != 0:
            pytest.skip("cannot bind-mount here")
        mount("-o", "remount,bind,ro", str(project))
    else:
        project.chmod(0o555)
    try:
        result = run_atmn(LOGIN, cwd=project, env=cli_env(home, hostile.url))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(project)], capture_output=True, timeout=10)
        else:
            project.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert "read-only" in error_line(result) or "not writable" in error_line(result)
    assert (project / ".env").read_bytes() == ENV_BEFORE
    assert hostile.requests == []  # nobody was sent to sign in for keys with nowhere to go
