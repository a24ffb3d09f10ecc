"""What to say about keys that still work because the server cannot revoke them from the
command line (hosted Autumn: contract §5, §H): where to delete each one, and where to
delete every key atmn minted at once. Said once per command, never "revoked". And the
`atmn keys revoke` line for a key that a server with §7 can revoke."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from atmn_auth.keyformat import key_kind, redact
from atmn_auth.settings import Settings


def still_working(
    settings: Settings, keys: Sequence[str], what: str = "", *, confirmed: bool = True
) -> list[str]:
    """Lines for `keys`, which the server accepts (or, not `confirmed`, may accept: it did
    not say): the first says why, one line per key says where to delete it, the last how
    to delete every key atmn minted at once."""
    if not keys:
        return []
    which = what or ("this key" if len(keys) == 1 else "these keys")
    verb = "works" if len(keys) == 1 and not what else "work"
    lines = [
        f"{settings.backend_url} cannot revoke keys from the command line, so {which} "
        f"{'still ' + verb if confirmed else 'may still work'}:"
    ]
    for key in keys:
        lines.append(f"  {redact(key)}: {settings.revoke_elsewhere(key)}")
    if not settings.local:
        lines.append(
            "  or, to delete every key atmn minted for the organization at once, revoke atmn "
            f"under Authorized Apps: {settings.apps_page()} (owners and admins)."
        )
    return lines


def unrevocable(fates: Mapping[str, str]) -> list[str]:
    """The keys whose fate is "unsupported": the server cannot revoke them."""
    return [key for key, fate in fates.items() if fate == "unsupported"]


def revoke_command(key: str, settings: Settings) -> str:
    """The `atmn keys revoke` command line for `key` (its shown form selects it)."""
    flags = ("-l " if settings.local else "") + ("-p " if key_kind(key) == "live" else "")
    return f"atmn {flags}keys revoke {redact(key)}"
