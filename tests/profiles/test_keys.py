"""Every `atmn keys` subcommand on both profiles. Hosted Autumn offers no listing, naming
or revoking of keys from the command line (contract §7, §H): one error line with the
dashboard's keys page, nothing signed in, minted or asked of /cli, and never a suggestion
to log in (which would not help). On the full profile they work (a light check each)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.autumn_server import AutumnServer

from .helpers import (
    LIVE_VAR,
    SANDBOX_VAR,
    WHOLE_KEY,
    KeyList,
    Project,
    RecordingProxy,
    logged_in,
    new_project,
    not_offered_line,
    ours,
    redact,
    slugs,
)


@pytest.fixture(scope="module")
def project(
    any_server: AutumnServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """One login for list, create and revoke (none of them changes the `.env`)."""
    yield logged_in(tmp_path_factory.mktemp("keys"), any_server)


class Unchanged:
    """What must not change when a command is not offered: the server's counts (sign-ins,
    tokens, keys minted and revoked), the `.env`, and the browser (never opened)."""

    def __init__(self, server: AutumnServer, project: Project) -> None:
        self.server, self.project = server, project
        self.stats = server.stats()
        self.env_file = project.env_file.read_bytes()
        self.browser = self._browser()

    def _browser(self) -> str:
        log = self.project.browser_log
        return log.read_text() if log.exists() else ""

    def check(self) -> None:
        assert self.server.stats() == self.stats
        assert self.project.env_file.read_bytes() == self.env_file
        assert self._browser() == self.browser


def assert_not_offered(
    result: subprocess.CompletedProcess[str],
    backend: str,
    unchanged: Unchanged,
    proxy: RecordingProxy,
    *,
    live: bool = False,
) -> None:
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [not_offered_line(backend, live=live)]
    unchanged.check()
    assert [f"{r.method} {r.path}" for r in proxy.requests if r.path.startswith("/cli/")] == []


@pytest.mark.parametrize(
    "args", [["keys", "list"], ["-p", "keys", "list"], ["keys", "list", "--json"]], ids=" ".join
)
def test_keys_list(
    args: list[str], any_server: AutumnServer, project: Project, proxy: RecordingProxy
) -> None:
    unchanged = Unchanged(any_server, project)

    result = project.atmn(*args, ATMN_BACKEND_URL=proxy.url)

    live = "-p" in args
    if any_server.hosted:
        assert_not_offered(result, proxy.url, unchanged, proxy, live=live)
        return
    assert (result.returncode, result.stderr) == (0, "")
    var = LIVE_VAR if live else SANDBOX_VAR
    key = project.keys()[var] or ""
    if "--json" in args:
        listing = json.loads(result.stdout)
        assert [k["key"] for k in listing["keys"] if k["in_env_file"]] == [redact(key)]
        return
    lines = result.stdout.splitlines()
    kind = "Live" if live else "Sandbox"
    assert lines[0] == (
        f"{kind} keys of the organization of {var} ({redact(key)}, from {project.env_file}), "
        "newest first:"
    )
    marked = [f"…{key[-4:]}" in line.split() for line in lines if line.startswith("*  ")]
    assert marked == [True]  # one key marked: the one in the .env
    assert lines[-1] == f"* in {project.env_file}"


@pytest.mark.parametrize("live", [False, True], ids=["sandbox", "live"])
def test_keys_create(
    live: bool, any_server: AutumnServer, project: Project, proxy: RecordingProxy
) -> None:
    unchanged = Unchanged(any_server, project)
    name = "ci live" if live else "ci"
    args = ["-p", "keys", "create", "--name", name] if live else ["keys", "create", "--name", name]

    result = project.atmn(*args, ATMN_BACKEND_URL=proxy.url)

    if any_server.hosted:
        assert_not_offered(result, proxy.url, unchanged, proxy, live=live)
        return
    assert result.returncode == 0, result.stderr
    kept = result.stdout.strip()
    alone = result.stdout == kept + "\n" and bool(WHOLE_KEY.fullmatch(kept))
    assert alone
    minted = proxy.minted()
    assert len(minted) == 2
    sandbox, other_live = minted
    kept_is_asked = kept == (other_live if live else sandbox)
    assert kept_is_asked
    other = sandbox if live else other_live
    kind = "live" if live else "sandbox"
    assert ours(result.stderr)[-2:] == [
        f'✓ Created "{name} ({kind})" ({redact(kept)}) for Acme (acme).',
        f"The other key minted with it ({redact(other)}) was revoked.",
    ]
    working = slugs(any_server.url, KeyList([kept, other]))
    assert working == ["acme", None]
    assert proxy.failed(proxy.after_callback()) == [], proxy.summary()


def test_keys_revoke(any_server: AutumnServer, project: Project, proxy: RecordingProxy) -> None:
    created = any_server.create_key("acme", name="old ci", created_via="oauth")
    key = created["key"]
    unchanged = Unchanged(any_server, project)

    result = project.atmn("keys", "revoke", key[-4:], ATMN_BACKEND_URL=proxy.url)

    working = slugs(any_server.url, KeyList([key]))
    if any_server.hosted:
        assert_not_offered(result, proxy.url, unchanged, proxy)
        assert working == ["acme"]
        return
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f'✓ Revoked "old ci (sandbox)" ({redact(key)}, {created["id"]}).'
    ]
    assert working == [None]
    still = project.working()
    assert still == ["acme", "acme"]


def test_keys_rotate(any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path) -> None:
    project = logged_in(tmp_path, any_server)
    old = project.keys()
    unchanged = Unchanged(any_server, project)

    result = project.atmn("keys", "rotate", ATMN_BACKEND_URL=proxy.url)

    if any_server.hosted:
        assert_not_offered(result, proxy.url, unchanged, proxy)
        still = project.working()
        assert still == ["acme", "acme"]
        return
    assert result.returncode == 0, result.stderr
    new = project.keys()
    assert result.stdout.splitlines() == [
        f"✓ Rotated the keys in {project.env_file} for Acme (acme).",
        f"  AUTUMN_SECRET_KEY        {redact(new[SANDBOX_VAR])}  (sandbox)",
        f"  AUTUMN_PROD_SECRET_KEY   {redact(new[LIVE_VAR])}  (live)",
        f"Revoked the old key {redact(old[SANDBOX_VAR])}.",
        f"Revoked the old key {redact(old[LIVE_VAR])}.",
    ]
    working = project.working()
    assert working == ["acme", "acme"]
    gone = slugs(any_server.url, old.values())
    assert gone == [None, None]


@pytest.mark.parametrize(
    "args",
    [["keys", "list"], ["keys", "rotate"], ["keys", "revoke", "abcd"], ["-p", "keys", "list"]],
    ids=" ".join,
)
def test_keys_without_a_key_in_force(
    args: list[str], any_server: AutumnServer, proxy: RecordingProxy, tmp_path: Path
) -> None:
    """On hosted Autumn, logging in first would not make `atmn keys` work: the command is
    not offered there whether or not a key is in force, and saying `run atmn login first`
    would send the person round in a circle."""
    project = new_project(tmp_path, any_server, backend_url=proxy.url)
    unchanged = Unchanged(any_server, project)

    result = project.atmn(*args)

    live = "-p" in args
    if any_server.hosted:
        assert_not_offered(result, proxy.url, unchanged, proxy, live=live)
        return
    var = LIVE_VAR if live else SANDBOX_VAR
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"atmn: error: no key to ask the server with: {var} is not set in the process "
        f"environment nor in {project.env_file}; run `atmn login` first"
    ]
