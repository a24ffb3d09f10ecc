"""`atmn login` end to end: the real console script, the real stand-in, a scripted browser."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from dotenv import dotenv_values

from atmn_auth.keyformat import key_kind
from support.autumn_server import AutumnServer
from support.scripted_browser import browser_env

from .helpers import CALLBACK_PORTS, clean_env, occupy, organization_of, run_atmn


def _project(tmp_path: Path, content: bytes | None = None) -> tuple[Path, Path]:
    """A project with an optional .env at its root, and a nested directory to run in."""
    root = tmp_path / "project"
    nested = root / "src" / "billing"
    nested.mkdir(parents=True)
    if content is not None:
        (root / ".env").write_bytes(content)
    return root, nested


def test_login_writes_both_keys_to_the_nearest_env(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    root, nested = _project(tmp_path, b"# my app\nDATABASE_URL=postgres://localhost/app\n")
    log = tmp_path / "browser.log"
    env = clean_env(
        tmp_path,
        ATMN_BACKEND_URL=autumn_server.url,
        **browser_env(autumn_server, org="globex", log=str(log)),
    )

    result = run_atmn(["login", "--org", "globex"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    assert not (nested / ".env").exists()
    values = dotenv_values(root / ".env")
    sandbox, live = values["AUTUMN_SECRET_KEY"], values["AUTUMN_PROD_SECRET_KEY"]
    assert sandbox and key_kind(sandbox) == "sandbox"
    assert live and key_kind(live) == "live"
    assert values["DATABASE_URL"] == "postgres://localhost/app"
    me = organization_of(autumn_server.url, sandbox)
    assert me.status_code == 200
    assert me.json()["slug"] == "globex"
    assert organization_of(autumn_server.url, live).json()["env"] == "live"
    # The user sees where the keys went and which organization, never a whole key.
    assert "Globex (globex)" in result.stdout
    assert str(root / ".env") in result.stdout
    assert f"am_sk_test_…{sandbox[-4:]}" in result.stdout
    for secret in (sandbox, live):
        assert secret not in result.stdout + result.stderr
    # The browser really went through the sign-in and consent pages.
    assert "sign-in" in log.read_text() and "approve org=globex" in log.read_text()


def test_a_new_env_file_is_private(autumn_server: AutumnServer, tmp_path: Path) -> None:
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = run_atmn(["login", "--org", "acme"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    created = nested / ".env"  # no .env anywhere up the tree: ./.env is created
    assert stat.S_IMODE(created.stat().st_mode) == 0o600
    assert "Created" in result.stdout


def test_other_content_comes_back_byte_for_byte(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    original = (
        b"# Payments\r\nexport STRIPE_KEY='sk_x # not a comment'\r\n\r\n"
        b"AUTUMN_SECRET_KEY=am_sk_test_stale\r\nNOT VALID LINE\r\n"
        b'MULTI="line one\r\nline two"\r\nAUTUMN_SECRET_KEY=duplicate\r\nLAST=1'
    )
    root, nested = _project(tmp_path, original)
    os.chmod(root / ".env", 0o640)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = run_atmn(["login", "--org", "acme"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    written = (root / ".env").read_bytes()
    values = dotenv_values(root / ".env")
    sandbox, live = values["AUTUMN_SECRET_KEY"], values["AUTUMN_PROD_SECRET_KEY"]
    assert sandbox is not None and live is not None
    expected = (
        b"# Payments\r\nexport STRIPE_KEY='sk_x # not a comment'\r\n\r\n"
        b"AUTUMN_SECRET_KEY=" + sandbox.encode() + b"\r\nNOT VALID LINE\r\n"
        b'MULTI="line one\r\nline two"\r\nLAST=1\r\n'
        b"AUTUMN_PROD_SECRET_KEY=" + live.encode()  # no line break added at the end
    )
    assert written == expected
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o640


def test_denied_consent_writes_nothing(autumn_server: AutumnServer, tmp_path: Path) -> None:
    root, nested = _project(tmp_path, b"KEEP=me\n")
    env = clean_env(
        tmp_path,
        ATMN_BACKEND_URL=autumn_server.url,
        **browser_env(autumn_server, action="deny"),
    )

    result = run_atmn(["login", "--org", "acme"], cwd=nested, env=env)

    assert result.returncode == 1
    assert "denied" in result.stderr
    assert "access_denied" in result.stderr
    assert (root / ".env").read_bytes() == b"KEEP=me\n"
    assert autumn_server.stats()["key_pairs_minted"] == 0


def test_several_organizations_without_a_terminal_need_org_where_the_server_binds_none(
    start_autumn_server, tmp_path: Path
) -> None:
    autumn_server = start_autumn_server(disable=["bind"])
    root, nested = _project(tmp_path, b"")
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = run_atmn(["login"], cwd=nested, env=env)

    assert result.returncode == 2
    assert "acme" in result.stderr and "globex" in result.stderr and "--org" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 200
    assert (root / ".env").read_bytes() == b""
    assert autumn_server.stats()["key_pairs_minted"] == 0


def test_unknown_org_is_a_usage_error(autumn_server: AutumnServer, tmp_path: Path) -> None:
    """The consent page ignores a hint it does not know; the approval is then for another
    organization than `--org`: nothing is created."""
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = run_atmn(["login", "--org", "initech"], cwd=nested, env=env)

    assert result.returncode == 2
    assert "--org asked for initech" in result.stderr and "Acme (acme)" in result.stderr
    assert "nothing was created" in result.stderr
    assert not (nested / ".env").exists()
    assert autumn_server.stats()["key_pairs_minted"] == 0


def test_unknown_org_lists_yours_where_the_server_binds_none(
    start_autumn_server, tmp_path: Path
) -> None:
    autumn_server = start_autumn_server(disable=["bind"])
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = run_atmn(["login", "--org", "initech"], cwd=nested, env=env)

    assert result.returncode == 2
    assert "initech" in result.stderr and "acme, globex" in result.stderr
    assert not (nested / ".env").exists()


def test_without_organization_listing_the_consent_page_choice_is_used(
    start_autumn_server, tmp_path: Path
) -> None:
    server = start_autumn_server(disable=["organizations"])
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=server.url, **browser_env(server, org="globex"))

    result = run_atmn(["login"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    sandbox = dotenv_values(nested / ".env")["AUTUMN_SECRET_KEY"]
    assert sandbox is not None
    assert organization_of(server.url, sandbox).json()["slug"] == "globex"
    assert "Globex (globex)" in result.stdout


def test_hosted_like_server_without_any_extension(start_autumn_server, tmp_path: Path) -> None:
    server = start_autumn_server(disable=["organizations", "metadata", "iss", "revoke-key"])
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=server.url, **browser_env(server, org="acme"))

    result = run_atmn(["login"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    assert "Acme (acme)" in result.stdout


def test_the_next_free_port_is_used(autumn_server: AutumnServer, tmp_path: Path) -> None:
    _, nested = _project(tmp_path)
    log = tmp_path / "browser.log"
    env = clean_env(
        tmp_path,
        ATMN_BACKEND_URL=autumn_server.url,
        **browser_env(autumn_server, log=str(log)),
    )
    with occupy(CALLBACK_PORTS[0]):
        result = run_atmn(["login", "--org", "acme"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    assert f"http://localhost:{CALLBACK_PORTS[1]}/" in log.read_text()


def test_all_ports_taken_is_one_clear_line(autumn_server: AutumnServer, tmp_path: Path) -> None:
    root, nested = _project(tmp_path, b"A=1\n")
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    sockets = []
    try:
        sockets.extend(occupy(port) for port in CALLBACK_PORTS)
        result = run_atmn(["login", "--org", "acme"], cwd=nested, env=env)
    finally:
        for s in sockets:
            s.close()

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "31448" in lines[0] and "31452" in lines[0]
    assert (root / ".env").read_bytes() == b"A=1\n"


def test_read_only_env_is_an_error_and_stays_untouched(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    # pytest's own temporary directories are private to root: use one others may enter.
    shared = Path(tempfile.mkdtemp(prefix="atmn-ro-"))
    shared.chmod(0o755)
    root, nested = _project(shared, b"A=1\n")
    for directory in (root, root / "src", nested):
        directory.chmod(0o755)
    (root / ".env").chmod(0o444)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))

    result = subprocess.run(
        [*_as_nobody(), *_atmn_cmd("login", "--org", "acme", "--timeout", "20")],
        cwd=nested,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    try:
        assert result.returncode == 1, result.stdout + result.stderr
        assert str(root / ".env") in result.stderr
        assert "read-only" in result.stderr
        assert (root / ".env").read_bytes() == b"A=1\n"
        assert autumn_server.stats()["key_pairs_minted"] == 0  # refused before signing in
    finally:
        shutil.rmtree(shared)


def _atmn_cmd(*args: str) -> list[str]:
    from .helpers import ATMN

    return [ATMN, *args]


def _as_nobody() -> list[str]:
    """Runs the CLI as an unprivileged user, for whom a 0444 file really is read-only."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def test_warns_when_the_new_keys_are_shadowed_or_not_ignored(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """The `.env.local` that holds a key is where login writes (it is read before `.env`,
    as the official CLI and frameworks do); the shell's key still wins, and the file is
    not ignored by git: both are said on stderr."""
    root, nested = _project(tmp_path, b"")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".env.local").write_bytes(b"AUTUMN_PROD_SECRET_KEY=am_sk_live_" + b"L" * 42 + b"\n")
    env = clean_env(
        tmp_path,
        ATMN_BACKEND_URL=autumn_server.url,
        AUTUMN_SECRET_KEY="am_sk_test_" + "S" * 42,
        **browser_env(autumn_server),
    )

    result = run_atmn(["login", "--org", "acme"], cwd=nested, env=env)

    assert result.returncode == 0, result.stderr
    # warnings go to stderr, marked; the results stay on stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("! Warning:")]
    assert len(warnings) == 2, result.stderr
    assert "Warning" not in result.stdout
    assert result.stdout.startswith("✓ Signed in to Acme (acme)"), result.stdout
    assert f"Updated {root / '.env.local'}:" in result.stdout
    assert set(dotenv_values(root / ".env.local")) == {
        "AUTUMN_SECRET_KEY",
        "AUTUMN_PROD_SECRET_KEY",
    }
    assert (root / ".env").read_bytes() == b""
    assert "not ignored by git; add `.env.local` to .gitignore" in warnings[0]
    assert "AUTUMN_SECRET_KEY is also set in the process environment" in warnings[1]
    assert "unset AUTUMN_SECRET_KEY" in warnings[1]
    assert "S" * 42 not in result.stdout + result.stderr
    assert "L" * 42 not in result.stdout + result.stderr

    (root / ".gitignore").write_text(".env\n.env.local\n")
    env.pop("AUTUMN_SECRET_KEY")
    (root / ".env.local").unlink()
    again = run_atmn(["login", "--org", "acme", "--force"], cwd=nested, env=env)
    assert again.returncode == 0, again.stderr
    assert "Warning:" not in again.stdout + again.stderr
    assert f"Updated {root / '.env'}:" in again.stdout


def test_replaced_keys_are_kept_by_default_and_revoked_when_asked(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    assert run_atmn(["login", "--org", "acme"], cwd=nested, env=env).returncode == 0
    first = dotenv_values(nested / ".env")

    kept = run_atmn(["login", "--org", "acme", "--force"], cwd=nested, env=env)

    assert kept.returncode == 0, kept.stderr
    for old in (first["AUTUMN_SECRET_KEY"], first["AUTUMN_PROD_SECRET_KEY"]):
        assert old is not None
        assert f"Replaced {old[:11]}…{old[-4:]}: kept, not revoked" in kept.stdout
        assert organization_of(autumn_server.url, old).status_code == 200
    second = dotenv_values(nested / ".env")

    revoked = run_atmn(
        ["login", "--org", "acme", "--force", "--revoke-replaced"], cwd=nested, env=env
    )

    assert revoked.returncode == 0, revoked.stderr
    for old in (second["AUTUMN_SECRET_KEY"], second["AUTUMN_PROD_SECRET_KEY"]):
        assert old is not None
        assert f"Replaced {old[:11]}…{old[-4:]}: revoked it on the server" in revoked.stdout
        assert organization_of(autumn_server.url, old).status_code == 401
    third = dotenv_values(nested / ".env")["AUTUMN_SECRET_KEY"]
    assert third is not None and organization_of(autumn_server.url, third).status_code == 200


def test_a_replaced_key_still_held_elsewhere_is_never_revoked(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """With --revoke-replaced, the keys the new ones replace are revoked, except one this
    project still uses: the shell exports it, or `.env.local` holds it. That one keeps
    working, and login says where it is used and how to revoke it later."""
    _, nested = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL=autumn_server.url, **browser_env(autumn_server))
    assert run_atmn(["login", "--org", "acme"], cwd=nested, env=env).returncode == 0
    first = dotenv_values(nested / ".env")
    sandbox, live = first["AUTUMN_SECRET_KEY"], first["AUTUMN_PROD_SECRET_KEY"]
    assert sandbox is not None and live is not None
    (nested / ".env.local").write_text(f"NEXT_AUTUMN_LIVE_KEY={live}\n")
    (nested / ".env.local").chmod(0o600)
    (nested / ".gitignore").write_text(".env\n.env.local\n")

    result = run_atmn(
        ["login", "--org", "acme", "--force", "--revoke-replaced"],
        cwd=nested,
        env={**env, "DEPLOY_KEY": sandbox},
    )

    assert result.returncode == 0, result.stderr
    shown = {key: f"{key[:11]}…{key[-4:]}" for key in (sandbox, live)}
    assert (
        f"Replaced {shown[sandbox]}: kept, still used by DEPLOY_KEY in the process "
        f"environment; revoke it once nothing uses it: `atmn keys revoke {shown[sandbox]}`."
    ) in result.stdout
    assert (
        f"Replaced {shown[live]}: kept, still used by NEXT_AUTUMN_LIVE_KEY in "
        f"{nested / '.env.local'}; revoke it once nothing uses it: "
        f"`atmn -p keys revoke {shown[live]}`."
    ) in result.stdout
    for key in (sandbox, live):
        assert organization_of(autumn_server.url, key).status_code == 200
    assert sandbox not in result.stdout + result.stderr and live not in result.stdout
