"""`atmn login`: sign in through the browser (or the device flow), write fresh keys to the
nearest `.env`, and say what happened: who, where, which keys (redacted), what became of
the keys they replaced, what next.

The results go to standard output (the first line marked `✓`); warnings go to standard
error, marked `!`, so that `atmn login > log` still shows them and a script reading the
output sees only the results. The login itself is `auth.login.log_in`, which the
recovery of a rejected key shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from atmn_auth.auth.dashboard import revoke_command, still_working, unrevocable
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR, redact
from atmn_auth.settings import Settings

if TYPE_CHECKING:
    from atmn_auth.auth.login import LoginOptions, LoginResult
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.term.console import Console


def run_login(inv: Invocation, options: LoginOptions) -> int:
    """`atmn login`: signs in, writes the keys, prints the result. Returns the exit code
    (0, also when the key in force still works and the person keeps it)."""
    from atmn_auth.auth.login import log_in
    from atmn_auth.errors import AlreadySignedIn

    try:
        result = log_in(
            inv.settings,
            cwd=inv.cwd,
            environ=inv.environ,
            options=options,
            console=inv.console,
            session=inv.session,
        )
    except AlreadySignedIn as done:
        inv.console.result(done.message)
        return 0
    print_login_result(result, inv.settings, cwd=inv.cwd, environ=inv.environ, console=inv.console)
    return 0


def print_login_result(
    result: LoginResult,
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    console: Console,
) -> None:
    org = result.organization
    who = f" as {org.user_label()}" if org is not None and org.user_label() else ""
    console.ok(f"Signed in to {org.label()}{who}." if org is not None else "Signed in.")
    verb = "Created" if result.created_file else "Updated"
    console.result(f"{verb} {result.env_file}:")
    console.result(f"  {SANDBOX_VAR:<24} {redact(result.keys.sandbox_key)}  (sandbox)")
    console.result(f"  {LIVE_VAR:<24} {redact(result.keys.live_key)}  (live)")
    scopes = scopes_line(result.keys.scopes)
    if scopes:
        console.result(scopes)
    for line in replaced_lines(result, settings):
        console.result(line)
    for i, line in enumerate(
        still_working(settings, unrevocable(result.replaced), "the keys this replaced")
    ):
        console.warn(f"Warning: {line}" if i == 0 else line)
    refused = result.keys.refused_calls()
    if refused:
        calls = ", ".join(f"`{call}`" for call in refused)
        console.result(
            f"Note: Autumn refuses {calls} with keys minted here (they get no balances or "
            f"billing scopes). For those, create a key in the dashboard "
            f"({settings.keys_page(settings.kind)}) and run "
            f"`{settings.login_command()} --with-key`."
        )
    minted = {SANDBOX_VAR: result.keys.sandbox_key, LIVE_VAR: result.keys.live_key}
    for warning in written_key_warnings(result.env_file, minted, cwd=cwd, environ=environ):
        console.warn(f"Warning: {warning}")
    console.result(
        f"Next: `{settings.command('env')}` shows the key in force; your code reads "
        f"{settings.key_var}."
    )


def replaced_lines(result: LoginResult, settings: Settings) -> list[str]:
    """One line per key the new ones replaced in the file, saying what became of it."""
    lines = []
    for key, fate in result.replaced.items():
        elsewhere = settings.revoke_elsewhere(key)
        if fate.startswith("kept: "):
            how = f"`{revoke_command(key, settings)}`" if result.can_revoke else elsewhere
            lines.append(
                f"Replaced {redact(key)}: kept, {fate.removeprefix('kept: ')}; revoke it "
                f"once nothing uses it: {how}."
            )
            continue
        if fate == "unsupported":
            continue  # said once, with where to delete them (`still_working`)
        said = {
            "revoked": "revoked it on the server",
            "already_invalid": "the server had already revoked it",
            "failed": f"could not revoke it: {elsewhere}",
            "kept": "kept, not revoked (pass --revoke-replaced to revoke replaced keys)",
        }[fate]
        lines.append(f"Replaced {redact(key)}: {said}.")
    return lines


def scopes_line(scopes: tuple[str, ...] | None) -> str | None:
    """`Keys may: customers, features (read, write); organisation (read).`, grouped by what
    each scope allows, when the server said (§3)."""
    if not scopes:
        return None
    rights: dict[str, list[str]] = {}
    for scope in scopes:
        resource, _, right = scope.partition(":")
        rights.setdefault(resource, []).append(right or "all")
    groups: dict[str, list[str]] = {}
    order = {"read": 0, "write": 1}
    for resource, allowed in rights.items():
        shown = ", ".join(sorted(set(allowed), key=lambda right: (order.get(right, 2), right)))
        groups.setdefault(shown, []).append(resource)
    said = "; ".join(f"{', '.join(names)} ({allowed})" for allowed, names in groups.items())
    return f"The keys may use: {said}."


def written_key_warnings(
    env_file: Path, written: Mapping[str, str], *, cwd: Path, environ: Mapping[str, str]
) -> list[str]:
    """Things that would make the keys just `written` to `env_file` (by variable) not be
    the ones in use, or end up in git. `atmn login` and `atmn login --with-key` say them."""
    from atmn_auth.envfiles.gitignore import is_git_ignored
    from atmn_auth.envfiles.resolution import describe, resolve_key, shadows
    from atmn_auth.errors import AtmnError

    warnings: list[str] = []
    if is_git_ignored(env_file) is False:
        which = "keys are" if len(written) > 1 else "key is"
        warnings.append(
            f"{env_file} is not ignored by git; add `{env_file.name}` to .gitignore so the "
            f"{which} never committed."
        )
    for var, value in written.items():
        try:
            resolution = resolve_key(var, cwd=cwd, environ=environ)
        except AtmnError:  # unreadable now: nothing more to say of it
            continue
        for shadow in shadows(resolution, env_file, value):
            if shadow.role != "farther":  # a farther .env is not read: no harm done
                warnings.append(describe(shadow, var, env_file))
    return warnings
