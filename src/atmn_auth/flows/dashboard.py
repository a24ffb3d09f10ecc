"""What to say about keys that still work because the server cannot revoke them from the
command line (hosted Autumn: contract §5, §H): where to delete each one, and where to
delete every key atmn minted at once. Said once per command, never "revoked"."""

from __future__ import annotations

from collections.abc import Sequence

from atmn_auth.keys import redact
from atmn_auth.settings import Settings


def still_working(settings: Settings, keys: Sequence[str], what: str = "") -> list[str]:
    """Lines for `keys` (each still valid on the server): the first says why, one line per
    key says where to delete it, the last how to delete every key atmn minted."""
    if not keys:
        return []
    which = what or ("this key" if len(keys) == 1 else "these keys")
    lines = [
        f"{settings.backend_url} cannot revoke keys from the command line, so {which} "
        f"still work{'s' if len(keys) == 1 and not what else ''}:"
    ]
    for key in keys:
        lines.append(f"  {redact(key)}: {settings.revoke_elsewhere(key)}")
    if not settings.local:
        lines.append(
            f"  or revoke atmn under Authorized Apps ({settings.apps_page()}) to delete every "
            "key atmn minted for the organization (owners and admins)."
        )
    return lines
