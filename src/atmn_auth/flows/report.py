"""What `atmn login` prints at the end: who, where, which keys (redacted), what next."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from atmn_auth.flows.login import LoginResult
from atmn_auth.keys import LIVE_VAR, SANDBOX_VAR, redact
from atmn_auth.settings import Settings


def print_login_result(
    result: LoginResult,
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    echo: Callable[[str], None],
) -> None:
    org = result.organization
    if org is not None:
        echo(f"Signed in to {org.label()}.")
    else:
        echo("Signed in.")
    verb = "Created" if result.created_file else "Updated"
    echo(f"{verb} {result.env_file}:")
    echo(f"  {SANDBOX_VAR:<24} {redact(result.keys.sandbox_key)}  (sandbox)")
    echo(f"  {LIVE_VAR:<24} {redact(result.keys.live_key)}  (live)")
    for line in replaced_lines(result):
        echo(line)
    for warning in login_warnings(result, cwd=cwd, environ=environ):
        echo(f"Warning: {warning}")
    flag = " -p" if settings.prod else ""
    echo(f"Next: `atmn{flag} env` shows the key in force; your code reads {settings.key_var}.")


_FATE = {
    "revoked": "revoked it on the server",
    "already_invalid": "the server had already revoked it",
    "unsupported": "this server cannot revoke keys: delete it in the Autumn dashboard",
    "failed": "could not revoke it: delete it in the Autumn dashboard",
    "kept": "still valid (pass --revoke-replaced to revoke replaced keys)",
}


def replaced_lines(result: LoginResult) -> list[str]:
    """One line per key the new ones replaced in the file, saying what became of it."""
    return [f"Replaced {redact(key)}: {_FATE[fate]}." for key, fate in result.replaced.items()]


def login_warnings(result: LoginResult, *, cwd: Path, environ: Mapping[str, str]) -> list[str]:
    """Things that would make the new keys not be the ones in use, or end up in git."""
    from atmn_auth.envfiles.gitignore import is_git_ignored
    from atmn_auth.envfiles.resolution import describe, resolve_key, shadows

    warnings: list[str] = []
    if is_git_ignored(result.env_file) is False:
        warnings.append(
            f"{result.env_file} is not ignored by git; add `.env` to .gitignore so the keys "
            "are never committed."
        )
    minted = {SANDBOX_VAR: result.keys.sandbox_key, LIVE_VAR: result.keys.live_key}
    for var, value in minted.items():
        resolution = resolve_key(var, cwd=cwd, environ=environ)
        for shadow in shadows(resolution, result.env_file, value):
            if shadow.role != "farther":  # a farther .env is not read: no harm done
                warnings.append(describe(shadow, var, result.env_file))
    return warnings
