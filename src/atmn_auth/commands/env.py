"""What `atmn env` reports: which key is in force, where it comes from, and whether
Autumn accepts it.

`check_env` gathers the facts into an `EnvReport`; `render_text` and `report_json`
show them; `run_env` ties them together and returns the exit code; the click command
(`atmn_auth.cli.env`) only parses flags. Tests call `run_env` directly.

Online, the server is asked `GET /v1/organization/me` and, at the same time on the same
`Session`, `GET /cli/api-keys` (§7; best effort, for the key's age and last use), so the
report waits for one round trip, not two.

Exit codes: 0 when the key is usable (well formed, of the right kind, and accepted by
the server; with `--offline`, well formed and of the right kind), 1 when it is not
(missing, wrong format, rejected, or the server could not confirm it: unreachable,
timed out, unexpected answer), 2 for bad usage.

`--json` prints one object with the same facts:

- `environment`: "sandbox" or "live" (`-p`); `backend_url`: the server asked;
- `variable`: the variable read (`AUTUMN_SECRET_KEY` or `AUTUMN_PROD_SECRET_KEY`);
- `key`: the key in force, redacted (prefix and last 4), or null;
- `source`: "environment" or "dotenv" (where the key in force comes from), or null;
- `path`: the `.env` it comes from (null for the environment); `env_file`: the nearest
  `.env`, the file `atmn login` writes and `atmn logout` edits;
- `format`: "ok", "missing", "empty", "wrong_kind" (a live key in the sandbox variable
  or the reverse) or "malformed"; `format_message`: the same in words;
- `server`: "accepted", "rejected" (401), "unreachable", "timed_out", "error" (another
  answer) or "not_checked" (`--offline`, or no well-formed key to send);
  `server_message`: details, or null;
- `organization`: `{"id", "name", "slug", "env"}` when accepted, else null;
- `user`: who the key was minted for, `{"email", "name"}` (from `/v1/organization/me`),
  when accepted and the server names one (not for a dashboard key), else null;
- `key_details`: when accepted and the server lists keys (contract §7), the key's entry
  there: `{"id", "name", "label", "created_at", "last_used_at" (ISO 8601 in UTC, or
  null), "created_via", "age_days" (whole days)}`; else null. Past
  `ATMN_KEY_MAX_AGE_DAYS` (default 90) days a warning suggests `atmn keys rotate`;
- `definitions`: every place defining the variable, in the order of the rule
  (`{"source": "environment"|"env.local"|"dotenv", "path", "key" (redacted),
  "in_use": bool}`);
- `warnings`: list of sentences (a `.env` skipped as another user's among them: `atmn
  env` shows those in its report, not on standard error); `next_step`: what to do, or
  null (never `atmn login` into a file login would refuse: when the nearest `.env` was
  skipped, it says so and how to trust it, `ATMN_SAFE_DIRECTORIES`);
- `usable`: the exit code's answer (true exactly when it is 0).
"""

from __future__ import annotations

from atmn_auth.envfiles.resolution import describe, resolve_key, shadows
from atmn_auth.keyformat import PREFIXES, key_kind, redact
from atmn_auth.term.style import WARN_MARK

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from concurrent.futures import Future
    from pathlib import Path
    from typing import Any, Literal

    from atmn_auth.api.autumn import ListedKey
    from atmn_auth.api.session import Session
    from atmn_auth.commands.invocation import Invocation
    from atmn_auth.envfiles.resolution import Definition, Resolution
    from atmn_auth.settings import Settings

    FormatStatus = Literal["ok", "missing", "empty", "wrong_kind", "malformed"]
    ServerStatus = Literal[
        "accepted", "rejected", "unreachable", "timed_out", "error", "not_checked"
    ]


class EnvReport:
    """The facts `atmn env` reports. Never holds a key unredacted except in `resolution`.

    A plain class rather than a dataclass (same fields, equality and repr), so that
    `atmn env --offline` does not import `dataclasses` at start-up.
    """

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = (
        "settings",
        "resolution",
        "format",
        "format_message",
        "server",
        "server_message",
        "organization",
        "warnings",
        "next_step",
        "key_details",
        "user",
    )
    __slots__ = _FIELDS
    settings: Settings
    resolution: Resolution
    format: FormatStatus
    format_message: str
    server: ServerStatus
    server_message: str | None
    organization: dict[str, Any] | None
    warnings: list[str]
    next_step: str | None
    key_details: dict[str, Any] | None
    user: dict[str, Any] | None

    def __init__(
        self,
        settings: Settings,
        resolution: Resolution,
        format: FormatStatus,
        format_message: str,
        server: ServerStatus = "not_checked",
        server_message: str | None = None,
        organization: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
        next_step: str | None = None,
        key_details: dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.resolution = resolution
        self.format = format
        self.format_message = format_message
        self.server = server
        self.server_message = server_message
        self.organization = organization
        self.warnings = [] if warnings is None else warnings
        self.next_step = next_step
        self.key_details = key_details
        self.user = user

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"EnvReport({shown})"

    @property
    def usable(self) -> bool:
        return self.format == "ok" and self.server in ("accepted", "not_checked")

    @property
    def checked(self) -> bool:
        return self.server != "not_checked"


# ---------------------------------------------------------------------------- facts


def check_env(
    settings: Settings,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    session: Session | None = None,
    env_file: Path | None = None,
    key_details: bool = False,
) -> EnvReport:
    """Resolves `settings.key_var`, checks its format and asks the server through
    `session` (with no session: offline, the format only); with `key_details`, also for
    the key's age and last use (§7, at the same time)."""
    resolution = resolve_key(
        settings.key_var, cwd=cwd, environ=environ, env_file=env_file, announce=False
    )
    fmt, fmt_message = _check_format(settings, resolution)
    report = EnvReport(settings, resolution, fmt, fmt_message)
    max_age: float | None = None
    if fmt == "ok" and session is not None:
        if key_details:
            from atmn_auth.auth.inforce import max_age_days

            max_age = max_age_days(environ)
        _ask_server(report, session, key_details=key_details)
    elif fmt == "ok":
        report.server_message = "not checked (--offline)"
    else:
        report.server_message = "not asked: there is no well-formed key to send"
    report.warnings = _warnings(report, environ, max_age)
    report.next_step = _next_step(report, environ)
    return report


def _check_format(settings: Settings, resolution: Resolution) -> tuple[FormatStatus, str]:
    var, value, winner = settings.key_var, resolution.value, resolution.winner
    expected = f"a {settings.kind} key ({PREFIXES[settings.kind]}…)"
    if value is None or winner is None:
        return (
            "missing",
            f"{var} is not set in the process environment nor in {_nearest(resolution)}",
        )
    if value == "":
        return "empty", f"{var} is set but empty in {winner.where()}"
    kind = key_kind(value)
    if kind is None:
        return "malformed", (
            f"{var} does not hold an Autumn secret key: expected {expected} "
            "followed by 42 letters and digits"
        )
    if kind != settings.kind:
        return "wrong_kind", f"{var} holds a {kind} key; it should hold {expected}"
    return "ok", f"{kind} key"


def _ask_server(report: EnvReport, session: Session, *, key_details: bool = False) -> None:
    from atmn_auth.api.autumn import Autumn
    from atmn_auth.errors import BackendError, BackendUnreachable, InvalidKey

    key = report.resolution.value
    assert key is not None
    autumn = Autumn.of(report.settings, session)
    # beside the check: the metadata (does the server list keys? §X), then the listing
    listing = session.submit(lambda: autumn.list_keys(key, timeout=5.0)) if key_details else None
    try:
        info = autumn.organization_me(key)
    except InvalidKey as exc:
        report.server, report.server_message = "rejected", exc.message
    except BackendUnreachable as exc:
        report.server = "timed_out" if exc.timed_out else "unreachable"
        report.server_message = exc.message
    except BackendError as exc:
        report.server, report.server_message = "error", exc.message
    else:
        report.server = "accepted"
        report.organization = info.as_json()
        report.user = info.user_json()
        if listing is not None:
            report.key_details = _details(listing, key)


def _details(listing: Future[list[ListedKey] | None], key: str) -> dict[str, Any] | None:
    """The key's own entry in §7's list, for `key_details`; None when the server has no
    list (or no answer) or the entry cannot be told apart by its last 4 characters."""
    from datetime import UTC, datetime

    from atmn_auth.errors import AtmnError
    from atmn_auth.text import age_days, iso

    try:
        listed = listing.result()
    except AtmnError:
        return None
    mine = [entry for entry in listed or [] if entry.is_key(key)]
    if len(mine) != 1:
        return None
    (entry,) = mine
    return {
        "id": entry.id,
        "name": entry.name,
        "label": entry.label(),
        "created_at": iso(entry.created_at),
        "last_used_at": iso(entry.last_used_at),
        "created_via": entry.created_via,
        "age_days": age_days(entry.created_at, datetime.now(UTC)),
    }


def _nearest(resolution: Resolution) -> str:
    return str(resolution.env_file) if resolution.env_file else "any .env"


def _warnings(
    report: EnvReport, environ: Mapping[str, str], max_age: float | None = None
) -> list[str]:
    res, var = report.resolution, report.resolution.var
    winner = res.winner
    warnings: list[str] = []
    if res.skipped:
        from atmn_auth.envfiles import trust

        rule = trust.policy(environ)
        warnings.extend(trust.skip_warning(skipped, rule) for skipped in res.skipped)
    if res.env_file is not None:  # what stands between the file atmn writes and its use
        in_file = next((d.value for d in res.definitions if d.path == res.env_file), None)
        for shadow in shadows(res, res.env_file, in_file):
            if shadow.definition.value:
                warnings.append(describe(shadow, var, res.env_file))
    if winner is None and any(d.source == "environment" for d in res.definitions):
        warnings.append(f"{var} is set but empty in the process environment.")
    if winner is not None and winner.source == "dotenv" and winner.path is not None:
        from atmn_auth.envfiles.gitignore import is_git_ignored

        if is_git_ignored(winner.path) is False:
            warnings.append(
                f"{winner.path} is not ignored by git: add `.env` to .gitignore so the key "
                "is never committed."
            )
    org_env = (report.organization or {}).get("env")
    if org_env and org_env != report.settings.kind:
        warnings.append(
            f"the server says this is a {org_env} key, not a {report.settings.kind} one."
        )
    too_old = _too_old(report, max_age)
    if too_old:
        warnings.append(too_old)
    from atmn_auth.auth.pending import notice

    written = winner.path if winner is not None and winner.source != "environment" else None
    target = written or res.env_file
    cut_short = notice(target, environ, report.settings) if target is not None else None
    if cut_short:
        warnings.append(cut_short)
    return warnings


def _too_old(report: EnvReport, max_age: float | None) -> str | None:
    """The rotation warning, when the key was created more than `max_age` days ago."""
    details = report.key_details
    if max_age is None or not details or not details.get("created_at"):
        return None
    from datetime import UTC, datetime

    created = datetime.fromisoformat(details["created_at"])
    if (datetime.now(UTC) - created).total_seconds() <= max_age * 86400:
        return None
    limit = f"{max_age:g}"
    days = details["age_days"]
    return (
        f"{report.resolution.var} was created {days} day{'' if days == 1 else 's'} ago: older "
        f"than {limit} day{'' if limit == '1' else 's'}; consider "
        f"`{report.settings.command('keys rotate')}`."
    )


def _next_step(report: EnvReport, environ: Mapping[str, str]) -> str | None:
    var, winner = report.resolution.var, report.resolution.winner
    target = _nearest(report.resolution)
    login = f"run `{report.settings.login_command()}` to write new keys to {target}"
    from_env = winner is not None and winner.source == "environment"
    if report.format == "ok" and report.server in ("accepted", "not_checked"):
        return None
    if report.server in ("unreachable", "timed_out", "error"):
        return (
            f"check that {report.settings.backend_url} is the right server and is up, "
            "then run `atmn env` again"
        )
    not_yours = _not_yours(report.resolution, environ, report.settings.login_command())
    if not_yours is not None:
        refused, said = not_yours
        if refused:  # login would refuse that file: never send anyone there
            return said
        login = f"{login}; or, {said}"
    if from_env:
        return f"run `unset {var}` (the process environment wins over .env), then {login}"
    return login


def _not_yours(
    resolution: Resolution, environ: Mapping[str, str], command: str
) -> tuple[bool, str] | None:
    """When the nearest `.env` belongs to another user: whether `atmn login` would refuse
    the file it writes (it, or its directory, is another user's), and what to say: the
    file that was skipped and how to trust it. None when nothing of the kind applies."""
    import os
    from pathlib import Path

    from atmn_auth.envfiles import trust

    target = resolution.env_file
    if target is None:
        return None
    rule = trust.policy(environ)
    skipped = next((s for s in resolution.skipped if s.path.parent == target.parent), None)
    directory = Path(os.path.realpath(target.parent))
    try:
        owner = os.stat(directory).st_uid
    except OSError:
        owner = None
    if skipped is not None:
        headline = skipped.headline()
    elif owner is not None and not rule.owns(owner, directory):
        headline = (
            f"{directory} belongs to {trust.owner(owner)}, not to you, so "
            f"`{command}` writes no keys there"
        )
    else:  # the target is fine; a nearer file may have been skipped on the way
        nearer = [s for s in resolution.skipped if target.parent in s.path.parents]
        if not nearer:
            return None
        skipped = nearer[0]
        hint = trust.trust_hint(skipped.path.parent, rule)
        if hint is None:
            return None
        return False, f"if you trust {skipped.path} ({skipped.reason}): {hint}"
    hint = trust.trust_hint(skipped.path.parent if skipped else directory, rule)
    if hint is None:
        return True, f"{headline}; atmn writes no keys there: use a directory of your own"
    return True, f"{headline}; if you trust it: {hint}"


# ---------------------------------------------------------------------------- showing


_SERVER_WORDS: dict[ServerStatus, str] = {
    "accepted": "accepted",
    "rejected": "rejected (401)",
    "unreachable": "unreachable",
    "timed_out": "timed out",
    "error": "unexpected answer",
    "not_checked": "not checked",
}


def render_text(report: EnvReport) -> list[str]:
    res, settings = report.resolution, report.settings
    winner = res.winner
    lines = [
        f"Environment:  {settings.kind}{' (-p)' if settings.prod else ''}",
        f"Backend:      {settings.backend_url}",
        f"Variable:     {res.var}",
    ]
    if winner is not None:
        lines.append(f"From:         {winner.where()}")
        lines.append(f"Key:          {redact(winner.value) if winner.value else '(empty)'}")
    else:
        lines.append(
            f"From:         nowhere (looked in the process environment and {_nearest(res)})"
        )
    mark = "ok" if report.format == "ok" else "error"
    lines.append(f"Format:       {mark}: {report.format_message}")
    server = _SERVER_WORDS[report.server]
    if report.server == "accepted" and report.organization:
        org = report.organization
        shown = org.get("slug") or org.get("id")
        named = f" ({shown})" if shown and shown != org["name"] else ""
        server = f"accepted: organization {org['name']}{named}"
    elif report.server_message:
        server = f"{server}: {report.server_message}" if report.checked else report.server_message
    lines.append(f"Server:       {server}")
    if report.user:
        user = report.user
        shown = user.get("email") or user.get("name")
        if user.get("name") and user.get("email") and user["name"] != user["email"]:
            shown = f"{user['name']} <{user['email']}>"
        lines.append(f"User:         {shown}")
    lines.extend(_details_lines(report.key_details))
    others = [d for d in res.definitions if d is not winner]
    if others:
        lines.append("Also defined:")
        lines.extend(f"  {_definition_line(d)}" for d in others)
    lines.extend(f"{WARN_MARK} Warning: {w}" for w in report.warnings)
    if report.next_step:
        lines.append(f"Next: {report.next_step}")
    return lines


def _details_lines(details: dict[str, Any] | None) -> list[str]:
    """The key's name, age and last use, when the server lists keys (§7)."""
    if not details:
        return []
    from datetime import UTC, datetime

    from atmn_auth.text import ago

    now = datetime.now(UTC)

    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    created = ago(when(details["created_at"]), now)
    if details["created_at"]:
        created += f" ({details['created_at'][:10]})"
    if details["created_via"]:
        created += f", via {details['created_via']}"
    used = details["last_used_at"]
    return [
        f"Key name:     {details['label']}",
        f"Created:      {created}",
        f"Last used:    {ago(when(used), now) if used else 'never'}",
    ]


def _definition_line(d: Definition) -> str:
    return f"{d.where()}: {redact(d.value) if d.value else '(empty)'}"


def report_json(report: EnvReport) -> dict[str, Any]:
    res, winner = report.resolution, report.resolution.winner
    return {
        "environment": report.settings.kind,
        "backend_url": report.settings.backend_url,
        "variable": res.var,
        "key": redact(winner.value) if winner and winner.value else None,
        "source": winner.source if winner else None,
        "path": str(winner.path) if winner and winner.path else None,
        "env_file": str(res.env_file) if res.env_file else None,
        "format": report.format,
        "format_message": report.format_message,
        "server": report.server,
        "server_message": report.server_message,
        "organization": report.organization,
        "user": report.user,
        "key_details": report.key_details,
        "definitions": [
            {
                "source": d.source,
                "path": str(d.path) if d.path else None,
                "key": redact(d.value) if d.value else None,
                "in_use": d is winner,
            }
            for d in res.definitions
        ],
        "warnings": report.warnings,
        "next_step": report.next_step,
        "usable": report.usable,
    }


# ---------------------------------------------------------------------------- running


def run_env(inv: Invocation, *, as_json: bool = False, env_file: Path | None = None) -> int:
    """`atmn env`: prints the report through `inv.console` and returns the exit code (0
    when the key is usable, else 1). Offline, the server is not asked.

    Where a person can answer (and the output is text), a rejected or missing key can be
    replaced at once by signing in (`auth.recovery.recover_interactively`).
    """
    session = inv.session_or_none()
    report = check_env(
        inv.settings,
        cwd=inv.cwd,
        environ=inv.environ,
        session=session,
        env_file=env_file,
        key_details=session is not None,
    )
    needs_login = report.server == "rejected" or report.format in ("missing", "empty")
    if needs_login and session is not None and not as_json and inv.console.asks is not None:
        report = _sign_in_again(inv, report, env_file) or report
    if as_json:
        import json

        inv.console.result(json.dumps(report_json(report), indent=2))
    else:
        for line in render_text(report):
            inv.console.result(line)
    return 0 if report.usable else 1


def _sign_in_again(inv: Invocation, report: EnvReport, env_file: Path | None) -> EnvReport | None:
    """On a terminal: offers to replace a rejected or missing key; the new report, or None
    when the person declines or the sign-in does not finish."""
    from atmn_auth.auth.recovery import recover_interactively

    settings, prompter = inv.settings, inv.console.asks
    what = "was rejected" if report.server == "rejected" else "is not set"
    if prompter is None or not prompter.confirm(
        f"{settings.key_var} {what}. Sign in again now?", True
    ):
        return None
    if recover_interactively(settings, inv.cwd, inv.environ, inv.console, inv.session) is None:
        return None
    return check_env(
        settings,
        cwd=inv.cwd,
        environ=inv.environ,
        session=inv.session,
        env_file=env_file,
        key_details=True,
    )
