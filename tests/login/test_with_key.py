"""`atmn login --with-key`: the real console script, the key on standard input, the real
stand-in. Every run checks that the key never shows in its output."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pexpect
import pytest
from dotenv import dotenv_values

from support.atmn_cli import ATMN, clean_env
from support.autumn_server import AutumnServer
from support.oauth_flow import mint, sign_in

ME = "/v1/organization/me"


def _mint(server: AutumnServer, org: str = "acme") -> tuple[str, str]:
    """A fresh (sandbox, live) pair from the stand-in, as login would mint it."""
    token = sign_in(server, org=org)
    keys = mint(server, token["access_token"]).json()
    return keys["sandbox_key"], keys["prod_key"]


def _with_key(
    args: list[str], stdin: str, *, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATMN, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _never_shown(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
        assert secret[11:] not in result.stdout + result.stderr  # nor its random part


def _project(tmp_path: Path, content: bytes | None = None) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    if content is not None:
        (project / ".env").write_bytes(content)
    return project


def _env(tmp_path: Path, server: AutumnServer, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, ATMN_BACKEND_URL=server.url, **extra)


def _me_requests(server: AutumnServer) -> int:
    return sum(1 for line in server.log_text().splitlines() if f"GET {ME}" in line)


# ---------------------------------------------------------------------------- accepted


def test_a_piped_key_is_verified_and_written(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, live = _mint(autumn_server)
    project = _project(tmp_path)
    before = _me_requests(autumn_server)

    result = _with_key(
        ["login", "--with-key"], f"{sandbox}\n", cwd=project, env=_env(tmp_path, autumn_server)
    )

    assert result.returncode == 0, result.stderr
    env_file = project / ".env"
    assert dotenv_values(env_file) == {"AUTUMN_SECRET_KEY": sandbox}  # the sandbox one only
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    lines = result.stdout.splitlines()
    assert lines[0] == "✓ Key accepted: organization Acme (acme)."
    assert f"Created {env_file}:" in lines
    assert f"am_sk_test_…{sandbox[-4:]}" in result.stdout
    assert result.stderr == ""
    assert _me_requests(autumn_server) == before + 1
    _never_shown(result, sandbox, live)


def test_with_p_the_live_key_goes_to_the_prod_variable(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    sandbox, live = _mint(autumn_server, org="globex")
    original = b"# app\nAUTUMN_SECRET_KEY=" + sandbox.encode() + b"\nDEBUG=1\n"
    project = _project(tmp_path, original)

    result = _with_key(
        ["-p", "login", "--with-key"], live, cwd=project, env=_env(tmp_path, autumn_server)
    )

    assert result.returncode == 0, result.stderr
    assert (project / ".env").read_bytes() == original + b"AUTUMN_PROD_SECRET_KEY=" + (
        live.encode() + b"\n"
    )
    assert "Globex (globex)" in result.stdout
    assert "AUTUMN_PROD_SECRET_KEY" in result.stdout
    _never_shown(result, sandbox, live)


def test_the_key_it_replaces_is_kept_and_said_so(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    old, _ = _mint(autumn_server)
    new, _ = _mint(autumn_server)
    project = _project(tmp_path, f"AUTUMN_SECRET_KEY={old}\n".encode())

    result = _with_key(["login", "--with-key"], new, cwd=project, env=_env(tmp_path, autumn_server))

    assert result.returncode == 0, result.stderr
    assert dotenv_values(project / ".env") == {"AUTUMN_SECRET_KEY": new}
    assert f"Replaced am_sk_test_…{old[-4:]}: not revoked" in result.stdout
    assert _accepted(autumn_server, old)  # still alive on the server
    _never_shown(result, old, new)


def test_offline_writes_a_well_formed_key_without_asking(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    unknown = "am_sk_test_" + "Zz9" * 14
    project = _project(tmp_path)
    before = _me_requests(autumn_server)

    result = _with_key(
        ["login", "--with-key", "--offline"],
        unknown + "\n",
        cwd=project,
        env=_env(tmp_path, autumn_server),
    )

    assert result.returncode == 0, result.stderr
    assert dotenv_values(project / ".env") == {"AUTUMN_SECRET_KEY": unknown}
    assert "--offline" in result.stdout.splitlines()[0]
    assert _me_requests(autumn_server) == before  # the stand-in saw no request
    assert "GET /v1" not in autumn_server.log_text()
    _never_shown(result, unknown)


def test_a_key_held_in_env_local_is_replaced_there(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    """`.env.local` is read before `.env`: the key it holds is the one replaced."""
    sandbox, _ = _mint(autumn_server)
    other = "am_sk_test_" + "Q" * 42
    project = _project(tmp_path, b"APP=1\n")
    (project / ".env.local").write_text(f"AUTUMN_SECRET_KEY={other}\n")

    result = _with_key(
        ["login", "--with-key"], sandbox, cwd=project, env=_env(tmp_path, autumn_server)
    )

    assert result.returncode == 0, result.stderr
    assert (project / ".env.local").read_text() == f"AUTUMN_SECRET_KEY={sandbox}\n"
    assert (project / ".env").read_text() == "APP=1\n"
    _never_shown(result, sandbox, other)


def test_a_shadowing_definition_is_warned_about_on_stderr(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    sandbox, _ = _mint(autumn_server)
    other = "am_sk_test_" + "Q" * 42
    project = _project(tmp_path)
    result = _with_key(
        ["login", "--with-key"],
        sandbox,
        cwd=project,
        env=_env(tmp_path, autumn_server, AUTUMN_SECRET_KEY=other),
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("! Warning: ")
    assert "process environment" in result.stderr
    _never_shown(result, sandbox, other)


# ---------------------------------------------------------------------------- refused


ORIGINAL = b"# keep me\r\nAUTUMN_SECRET_KEY=am_sk_test_old\r\nOTHER='x y'\r\n"


def _refused(
    result: subprocess.CompletedProcess[str], project: Path, code: int, *secrets: str
) -> str:
    """The one error line, after checking the exit code, that the .env was not touched
    and that the key was not shown."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("atmn: error: ")
    assert (project / ".env").read_bytes() == ORIGINAL
    _never_shown(result, *secrets)
    return lines[0]


def test_a_live_key_for_the_sandbox_variable(autumn_server: AutumnServer, tmp_path: Path) -> None:
    _, live = _mint(autumn_server)
    project = _project(tmp_path, ORIGINAL)
    before = _me_requests(autumn_server)

    result = _with_key(
        ["login", "--with-key"], live + "\n", cwd=project, env=_env(tmp_path, autumn_server)
    )

    line = _refused(result, project, 2, live)
    assert "live key" in line and "add -p" in line and "AUTUMN_PROD_SECRET_KEY" in line
    assert _me_requests(autumn_server) == before


def test_a_sandbox_key_with_p(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path, ORIGINAL)

    result = _with_key(
        ["login", "-p", "--with-key"], sandbox, cwd=project, env=_env(tmp_path, autumn_server)
    )

    line = _refused(result, project, 2, sandbox)
    assert "sandbox key" in line and "drop -p" in line


def test_a_truncated_key(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, _ = _mint(autumn_server)
    truncated = sandbox[:-1]  # am_sk_test_ and 41 characters
    project = _project(tmp_path, ORIGINAL)

    result = _with_key(
        ["login", "--with-key"], truncated + "\n", cwd=project, env=_env(tmp_path, autumn_server)
    )

    line = _refused(result, project, 2, truncated)
    assert "one character short" in line and "truncated" in line


@pytest.mark.parametrize("quote", ['"', "'"])
def test_quotes_around_the_key(autumn_server: AutumnServer, tmp_path: Path, quote: str) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path, ORIGINAL)

    result = _with_key(
        ["login", "--with-key"],
        f"{quote}{sandbox}{quote}\n",
        cwd=project,
        env=_env(tmp_path, autumn_server),
    )

    line = _refused(result, project, 2, sandbox)
    assert "remove the quotes around the key" in line


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "no key on standard input"),
        ("AUTUMN_SECRET_KEY={key}\n", "without `AUTUMN_SECRET_KEY=`"),
        ("{key}\nAUTUMN_PROD_SECRET_KEY=x\n", "2 lines"),
        ("{head} {tail}\n", "inside it"),
        ("{key}X\n", "one character too long"),
        ("am_pk_test_abc\n", "publishable key"),
        ("sk_live_abc\n", "not an Autumn sandbox secret key"),
    ],
    ids=["empty", "assignment", "lines", "space", "long", "publishable", "other"],
)
def test_other_usual_mistakes(
    autumn_server: AutumnServer, tmp_path: Path, text: str, hint: str
) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path, ORIGINAL)
    stdin = text.format(key=sandbox, head=sandbox[:30], tail=sandbox[30:])

    result = _with_key(
        ["login", "--with-key"], stdin, cwd=project, env=_env(tmp_path, autumn_server)
    )

    line = _refused(result, project, 2, sandbox)
    assert hint in line


def test_whitespace_around_the_key_is_ignored(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path)

    result = _with_key(
        ["login", "--with-key"],
        f"  {sandbox}\t\r\n\n",
        cwd=project,
        env=_env(tmp_path, autumn_server),
    )

    assert result.returncode == 0, result.stderr
    assert dotenv_values(project / ".env") == {"AUTUMN_SECRET_KEY": sandbox}


def test_a_key_the_server_rejects(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, _ = _mint(autumn_server)
    autumn_server.admin("keys", "revoke", "--last4", sandbox[-4:], check=True)
    project = _project(tmp_path, ORIGINAL)

    result = _with_key(
        ["login", "--with-key"], sandbox + "\n", cwd=project, env=_env(tmp_path, autumn_server)
    )

    line = _refused(result, project, 1, sandbox)
    assert "rejected the key" in line and "nothing was written" in line


def test_an_unreachable_server(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, _ = _mint(autumn_server)
    url = autumn_server.url
    autumn_server.stop()
    project = _project(tmp_path, ORIGINAL)

    result = _with_key(
        ["login", "--with-key"], sandbox, cwd=project, env=clean_env(tmp_path, ATMN_BACKEND_URL=url)
    )

    line = _refused(result, project, 1, sandbox)
    assert "cannot reach" in line and "--offline" in line


def test_an_unwritable_env_is_refused_before_the_server_is_asked(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path)
    (project / ".env").mkdir()  # not a file: no one can write it, root included
    before = _me_requests(autumn_server)

    result = _with_key(
        ["login", "--with-key"], sandbox, cwd=project, env=_env(tmp_path, autumn_server)
    )

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "directory" in result.stderr
    assert list((project / ".env").iterdir()) == []
    assert _me_requests(autumn_server) == before
    _never_shown(result, sandbox)


# ---------------------------------------------------------------------------- never an argument


@pytest.mark.parametrize(
    "args",
    [
        ["login", "--with-key", "{key}"],
        ["login", "{key}"],
        ["login", "--with-key={key}"],
        ["-p", "login", "--offline", "--with-key", "--", "{key}"],
    ],
    ids=["after-flag", "positional", "as-value", "after-dashes"],
)
def test_the_key_is_never_accepted_as_an_argument(
    autumn_server: AutumnServer, tmp_path: Path, args: list[str]
) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path, ORIGINAL)
    argv = [arg.format(key=sandbox) for arg in args]

    result = subprocess.run(
        [ATMN, *argv],
        cwd=project,
        env=_env(tmp_path, autumn_server),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("atmn: error: ")
    assert "Run 'atmn login --help' for usage." in result.stderr
    assert (project / ".env").read_bytes() == ORIGINAL
    _never_shown(result, sandbox)


def test_browser_options_do_not_go_with_it(tmp_path: Path) -> None:
    project = _project(tmp_path)
    env = clean_env(tmp_path, ATMN_BACKEND_URL="http://127.0.0.1:9")
    for args, word in (
        (["login", "--with-key", "--org", "acme"], "--org"),
        (["login", "--with-key", "--device"], "--device"),
        (["login", "--offline"], "--offline goes with --with-key"),
    ):
        result = _with_key(args, "", cwd=project, env=env)
        assert result.returncode == 2
        assert word in result.stderr.splitlines()[0]
    assert not (project / ".env").exists()


def test_help_lists_the_new_options(tmp_path: Path) -> None:
    result = _with_key(["login", "--help"], "", cwd=tmp_path, env=clean_env(tmp_path))
    assert result.returncode == 0
    for option in ("--with-key", "--offline", "--device / --no-device"):
        assert option in result.stdout


# ---------------------------------------------------------------------------- on a terminal


def test_on_a_terminal_the_prompt_is_hidden(autumn_server: AutumnServer, tmp_path: Path) -> None:
    sandbox, _ = _mint(autumn_server)
    project = _project(tmp_path)
    env = dict(_env(tmp_path, autumn_server), TERM="xterm", NO_COLOR="1")
    child = pexpect.spawn(
        ATMN, ["login", "--with-key"], cwd=str(project), env=env, encoding="utf-8", timeout=30
    )

    child.expect(r"Paste the sandbox key \(am_sk_test_…\) for AUTUMN_SECRET_KEY \(input hidden\): ")
    child.sendline(sandbox)
    child.expect(pexpect.EOF)
    child.close()

    seen = (child.before or "") + (child.after if isinstance(child.after, str) else "")
    assert child.exitstatus == 0, seen
    assert "Key accepted: organization Acme (acme)." in seen
    assert sandbox not in seen and sandbox[11:] not in seen  # not echoed as typed
    assert dotenv_values(project / ".env") == {"AUTUMN_SECRET_KEY": sandbox}


def test_nothing_typed_at_the_prompt_writes_nothing(
    autumn_server: AutumnServer, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    env = dict(_env(tmp_path, autumn_server), TERM="xterm", NO_COLOR="1")
    child = pexpect.spawn(
        ATMN, ["login", "--with-key"], cwd=str(project), env=env, encoding="utf-8", timeout=30
    )

    child.expect(r"\(input hidden\): ")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 2
    assert "no key was entered" in (child.before or "")
    assert not (project / ".env").exists()


def _accepted(server: AutumnServer, key: str) -> bool:
    import httpx2

    response = httpx2.get(f"{server.url}{ME}", headers={"Authorization": f"Bearer {key}"})
    return response.status_code == 200
