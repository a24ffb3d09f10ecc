"""Show secrets without showing them: a recognisable prefix and the last 4 characters."""

from __future__ import annotations

_KNOWN_PREFIXES = ("am_sk_test_", "am_sk_live_")


def redact(secret: str | None) -> str:
    """`am_sk_test_…Ab12` for keys; `abcd…wxyz`-style prefix and last 4 for anything else.

    Short values are fully masked: showing 8 of 10 characters would not hide them.
    """
    if not secret:
        return "(none)"
    for prefix in _KNOWN_PREFIXES:
        if secret.startswith(prefix) and len(secret) >= len(prefix) + 12:
            return f"{prefix}…{secret[-4:]}"
    if len(secret) < 16:
        return "****"
    return f"{secret[:4]}…{secret[-4:]}"
