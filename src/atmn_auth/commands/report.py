"""What `atmn login` prints at the end: who, where, which keys (redacted), what next; and
what `atmn keys rotate` and `atmn keys create` say when they are done.

The results go to standard output (the first line marked `✓`); warnings go to standard
error, marked `!`, so that `atmn login > log` still shows them and a script reading the
output sees only the results. `Output` (`atmn_auth.term.style`) does the routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from atmn_auth.auth.dashboard import still_working
from atmn_auth.auth.login import LoginResult
from atmn_auth.keyformat import LIVE_VAR, SANDBOX_VAR, key_kind, redact
from atmn_auth.settings import Settings
from atmn_auth.term.style import Output

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from atmn_auth.commands.keys_create import Created
    from atmn_auth.commands.keys_rotate import Rotated


def print_login_result(
    result: LoginResult,
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    output: Output,
) -> None:
    org = result.organization
    who = f" as {org.user_label()}" if org is not None and org.user_label() else ""
    output.ok(f"Signed in to {org.label()}{who}." if org is not None else "Signed in.")
    verb = "Created" if result.created_file else "Updated"
    output.result(f"{verb} {result.env_file}:")
    output.result(f"  {SANDBOX_VAR:<24} {redact(result.keys.sandbox_key)}  (sandbox)")
    output.result(f"  {LIVE_VAR:<24} {redact(result.keys.live_key)}  (live)")
    scopes = scopes_line(result.keys.scopes)
    if scopes:
        output.result(scopes)
    for line in replaced_lines(result, settings):
        output.result(line)
    for i, line in enumerate(
        still_working(settings, unrevocable(result.replaced), "the keys this replaced")
    ):
        output.warn(f"Warning: {line}" if i == 0 else line)
    refused = result.keys.refused_calls()
    if refused:
        calls = ", ".join(f"`{call}`" for call in refused)
        output.result(
            f"Note: Autumn refuses {calls} with keys minted here (they get no balances or "
            f"billing scopes). For those, create a key in the dashboard "
            f"({settings.keys_page(settings.kind)}) and run "
            f"`{settings.login_command()} --with-key`."
        )
    for warning in login_warnings(result, cwd=cwd, environ=environ):
        output.warn(f"Warning: {warning}")
    output.result(
        f"Next: `{settings.command('env')}` shows the key in force; your code reads "
        f"{settings.key_var}."
    )


def replaced_lines(result: LoginResult, settings: Settings) -> list[str]:
    """One line per key the new ones replaced in the file, saying what became of it."""
    lines = []
    for key, fate in result.replaced.items():
        elsewhere = settings.revoke_elsewhere(key)
        if fate.startswith("kept: "):
            how = f"`{_revoke_command(key, settings)}`" if result.can_revoke else elsewhere
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


def unrevocable(fates: Mapping[str, str]) -> list[str]:
    """The keys whose fate is "unsupported": the server cannot revoke them."""
    return [key for key, fate in fates.items() if fate == "unsupported"]


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


def login_warnings(result: LoginResult, *, cwd: Path, environ: Mapping[str, str]) -> list[str]:
    """Things that would make the new keys not be the ones in use, or end up in git."""
    from atmn_auth.envfiles.gitignore import is_git_ignored
    from atmn_auth.envfiles.resolution import describe, resolve_key, shadows

    warnings: list[str] = []
    if is_git_ignored(result.env_file) is False:
        warnings.append(
            f"{result.env_file} is not ignored by git; add `{result.env_file.name}` to "
            ".gitignore so the keys are never committed."
        )
    minted = {SANDBOX_VAR: result.keys.sandbox_key, LIVE_VAR: result.keys.live_key}
    for var, value in minted.items():
        resolution = resolve_key(var, cwd=cwd, environ=environ)
        for shadow in shadows(resolution, result.env_file, value):
            if shadow.role != "farther":  # a farther .env is not read: no harm done
                warnings.append(describe(shadow, var, result.env_file))
    return warnings


def print_rotate_result(result: Rotated, settings: Settings, *, output: Output) -> None:
    """What `atmn keys rotate` prints once the new keys work and the old ones are settled:
    the file and the new keys on stdout, an old key that still works as a warning."""
    output.ok(f"Rotated the keys in {result.env_file} for {result.organization.label()}.")
    output.result(f"  {SANDBOX_VAR:<24} {redact(result.keys.sandbox_key)}  (sandbox)")
    output.result(f"  {LIVE_VAR:<24} {redact(result.keys.live_key)}  (live)")
    for key, fate in result.replaced.items():
        shown, elsewhere = redact(key), settings.revoke_elsewhere(key)
        if fate == "revoked":
            output.result(f"Revoked the old key {shown}.")
        elif fate == "already_invalid":
            output.result(f"The old key {shown} was already revoked.")
        elif fate == "unsupported":
            continue
        elif fate.startswith("kept: "):
            output.warn(
                f"Warning: kept the old key {shown}, {fate.removeprefix('kept: ')}; revoke it "
                f"once nothing uses it: `{_revoke_command(key, settings)}`."
            )
        else:
            why = fate.removeprefix("failed: ")
            output.warn(
                f"Warning: could not revoke the old key {shown} ({why}); it still works: "
                f"{elsewhere}."
            )
    for i, line in enumerate(still_working(settings, unrevocable(result.replaced), "the old keys")):
        output.warn(f"Warning: {line}" if i == 0 else line)
    if result.shadowed_by_environment:
        output.warn(
            f"Warning: {settings.key_var} is also set in the process environment, which wins "
            f"over {result.env_file}: run `unset {settings.key_var}` to use the new key."
        )


def print_created(created: Created, settings: Settings, *, output: Output) -> None:
    """What `atmn keys create` says besides the key (the key alone goes to stdout): on the
    stream `output` writes results to, which the command points at stderr."""
    org = created.organization
    where = f" for {org.label()}" if org is not None else ""
    output.ok(f'Created "{created.label}" ({redact(created.key)}){where}.')
    other, fate = redact(created.other_key), created.other_outcome
    if fate in ("revoked", "already_invalid"):
        output.result(f"The other key minted with it ({other}) was revoked.")
    else:
        why = "this server cannot revoke keys" if fate == "unsupported" else fate
        elsewhere = settings.revoke_elsewhere(created.other_key)
        output.warn(
            f"Warning: could not revoke the other key minted with it ({other}: {why}); "
            f"it still works: {elsewhere}."
        )


def _revoke_command(key: str, settings: Settings) -> str:
    """The `atmn keys revoke` command line for `key` (its shown form selects it)."""
    flags = ("-l " if settings.local else "") + ("-p " if key_kind(key) == "live" else "")
    return f"atmn {flags}keys revoke {redact(key)}"
