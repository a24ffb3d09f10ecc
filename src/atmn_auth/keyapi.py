"""The calls made with a secret key itself (contract §4 and §5): who is this key, and revoke it.

Outcomes of `organization_me`, which callers tell apart by what comes back:

- accepted: returns `OrgInfo`;
- rejected (401): raises `KeyRejected`;
- unreachable: raises `BackendUnreachable` with `timed_out=False`;
- timed out: raises `BackendUnreachable` with `timed_out=True`;
- any other answer: raises `BackendError` (its `status` is the HTTP status).

httpx2 is imported only when a call is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from atmn_auth.http import (
    DEFAULT_TIMEOUT,
    BackendError,
    BackendUnreachable,
    json_object,
    make_client,
    printable,
    send,
    server_message,
)

__all__ = [
    "ORGANIZATION_ME_PATH",
    "REVOKE_CURRENT_KEY_PATH",
    "BackendError",
    "BackendUnreachable",
    "KeyRejected",
    "OrgInfo",
    "RevokeOutcome",
    "organization_me",
    "revoke_key",
]

ORGANIZATION_ME_PATH = "/v1/organization/me"
REVOKE_CURRENT_KEY_PATH = "/cli/api-keys/current"

RevokeOutcome = Literal["revoked", "already_invalid", "unsupported"]


class KeyRejected(BackendError):
    """The server answered 401: the key is unknown, malformed or revoked."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=401)


@dataclass(frozen=True)
class OrgInfo:
    """The organization a key belongs to. `id` and `env` may be missing on hosted Autumn."""

    name: str
    slug: str
    id: str | None = None
    env: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "slug": self.slug, "env": self.env}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def organization_me(backend_url: str, key: str, *, timeout: float = DEFAULT_TIMEOUT) -> OrgInfo:
    """`GET /v1/organization/me` with `key`: its organization, or one of the errors above."""
    with make_client(backend_url, timeout=timeout) as client:
        response = send(client, "GET", ORGANIZATION_ME_PATH, headers=_bearer(key))
    if response.status_code == 401:
        raise KeyRejected(f"the server rejected the key: {server_message(response)}")
    if response.status_code != 200:
        raise BackendError(
            f"{ORGANIZATION_ME_PATH} answered {server_message(response)}",
            status=response.status_code,
        )
    data = json_object(response, ORGANIZATION_ME_PATH)

    def text(name: str) -> str | None:
        value = data.get(name)
        return (printable(value, 100) or None) if isinstance(value, str) else None

    name, slug = text("name"), text("slug")
    if name is None and slug is None:
        raise BackendError(
            f"{ORGANIZATION_ME_PATH} answered without an organization name or slug", status=200
        )
    return OrgInfo(name=name or slug or "", slug=slug or "", id=text("id"), env=text("env"))


def revoke_key(backend_url: str, key: str, *, timeout: float = DEFAULT_TIMEOUT) -> RevokeOutcome:
    """`DELETE /cli/api-keys/current` with `key`.

    "revoked" (204), "already_invalid" (401: unknown or already revoked), "unsupported"
    (404/405: a server without this extension, such as hosted Autumn today). Anything
    else raises `BackendError`; no answer raises `BackendUnreachable`.
    """
    with make_client(backend_url, timeout=timeout) as client:
        response = send(client, "DELETE", REVOKE_CURRENT_KEY_PATH, headers=_bearer(key))
    status = response.status_code
    if status in (200, 204):
        return "revoked"
    if status == 401:
        return "already_invalid"
    if status in (404, 405):
        return "unsupported"
    raise BackendError(f"revoking the key: {server_message(response)}", status=status)
