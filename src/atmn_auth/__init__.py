"""atmn: sign in to Autumn from the command line and keep working API keys in `.env`.

Heavy parts (the HTTP client, authlib) are imported only when first used, so that
`atmn --version` and `atmn --help` stay fast: this module imports nothing at all
(not even `typing`).
"""

from __future__ import annotations

from atmn_auth._version import __version__

__all__ = ["AsyncAutumnClient", "AutumnClient", "__version__"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from atmn_auth.client import AsyncAutumnClient, AutumnClient


def __getattr__(name: str) -> Any:
    if name in ("AutumnClient", "AsyncAutumnClient"):
        from atmn_auth import client

        return getattr(client, name)
    raise AttributeError(f"module 'atmn_auth' has no attribute {name!r}")
