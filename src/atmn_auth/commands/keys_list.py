"""`atmn keys list`: the keys of the organization and environment of the key in force.

`atmn keys list --json` prints one object:

- `environment`: "sandbox" or "live" (`-p`);
- `backend_url`: the server asked;
- `variable`: the variable read (`AUTUMN_SECRET_KEY`, with `-p` `AUTUMN_PROD_SECRET_KEY`);
- `key`: the key in force, which authorized the listing, redacted (`am_sk_test_…Ab12`);
- `source`: where that key comes from: "environment" or "dotenv";
- `path`: the `.env` it comes from, or null (the process environment);
- `env_file`: this project's `.env` (the nearest one, which `atmn login` writes), or null;
- `keys`: the keys, newest first, each an object:
  - `id`: the server's id for the key (what `atmn keys revoke` takes);
  - `name`: its name as the server stores it (one name for both keys of a pair);
  - `label`: the name as shown, with the environment: `NAME (sandbox)`;
  - `env`: "sandbox" or "live";
  - `last4`: its last 4 characters;
  - `key`: the key redacted, `am_sk_test_…Ab12` (never the key itself);
  - `created_at`: when it was created, ISO 8601 in UTC (`2025-01-31T12:00:00Z`), or null;
  - `last_used_at`: when it was last used, the same way, or null (never, or not said);
  - `created_via`: "oauth" (a sign-in minted it), "dashboard", or null;
  - `age_days`: whole days since it was created, or null;
  - `in_env_file`: true when this project's `.env` holds it;
  - `in_use`: true for the key in force.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from atmn_auth.auth.inforce import KeyInForce, listed_keys, offered_key_in_force
from atmn_auth.keyformat import redact
from atmn_auth.text import age_days, ago, iso

if TYPE_CHECKING:
    from atmn_auth.api.autumn import ListedKey
    from atmn_auth.commands.invocation import Invocation


def run_list(
    inv: Invocation,
    *,
    as_json: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """`atmn keys list`: prints through `inv.console`; returns the exit code."""
    settings, output = inv.settings, inv.console
    from atmn_auth.api.autumn import Autumn

    autumn = Autumn.of(settings, inv.session)
    force = offered_key_in_force(autumn, settings, cwd=inv.cwd, environ=inv.environ)
    listed = listed_keys(autumn, force)
    moment = now()
    if as_json:
        import json

        output.result(json.dumps(list_json(force, listed, moment), indent=2))
        return 0
    for line in render_list(force, listed, moment):
        output.result(line)
    return 0


def in_env_file(force: KeyInForce, entry: ListedKey) -> str | None:
    """The variable of this project's `.env` that holds `entry`, if one does."""
    return next((var for var, value in force.in_file.items() if entry.is_key(value)), None)


def render_list(force: KeyInForce, listed: list[ListedKey], now: datetime) -> list[str]:
    settings = force.settings
    kind = settings.kind.capitalize()
    head = (
        f"{kind} keys of the organization of {force.var} ({redact(force.key)}, from "
        f"{force.where()}), newest first:"
    )
    if not listed:
        return [head, "  (none)"]
    header = ("", "NAME", "KEY", "CREATED", "LAST USED", "VIA", "ID")
    rows = [header]
    for entry in listed:
        mark = "*" if in_env_file(force, entry) else ""
        rows.append(
            (
                mark,
                entry.label(),
                f"…{entry.last4}",
                ago(entry.created_at, now),
                ago(entry.last_used_at, now) if entry.last_used_at else "never",
                entry.created_via or "?",
                entry.id,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [head, ""]
    for row in rows:
        cells = [row[0].ljust(widths[0] or 1)]
        cells += [cell.ljust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    if any(in_env_file(force, entry) for entry in listed) and force.env_file is not None:
        lines += ["", f"* in {force.env_file}"]
    return lines


def list_json(force: KeyInForce, listed: list[ListedKey], now: datetime) -> dict[str, Any]:
    winner = force.resolution.winner
    return {
        "environment": force.settings.kind,
        "backend_url": force.settings.backend_url,
        "variable": force.var,
        "key": redact(force.key),
        "source": winner.source if winner else None,
        "path": str(force.from_dotenv) if force.from_dotenv else None,
        "env_file": str(force.env_file) if force.env_file else None,
        "keys": [key_json(force, entry, now) for entry in listed],
    }


def key_json(force: KeyInForce, entry: ListedKey, now: datetime) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "label": entry.label(),
        "env": entry.env,
        "last4": entry.last4,
        "key": entry.redacted(),
        "created_at": iso(entry.created_at),
        "last_used_at": iso(entry.last_used_at),
        "created_via": entry.created_via,
        "age_days": age_days(entry.created_at, now),
        "in_env_file": in_env_file(force, entry) is not None,
        "in_use": entry.is_key(force.key),
    }
