"""The calls made with an OAuth access token: list organizations (§2), mint keys (§3)."""

from __future__ import annotations

from dataclasses import dataclass

from atmn_auth.errors import AtmnError
from atmn_auth.http import BackendError, json_object, make_client, printable, send, server_message
from atmn_auth.keys import is_valid_key
from atmn_auth.redact import redact


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    slug: str

    def label(self) -> str:
        return f"{self.name} ({self.slug})" if self.name != self.slug else self.slug


@dataclass(frozen=True)
class MintedKeys:
    sandbox_key: str
    live_key: str
    org_id: str | None

    def __repr__(self) -> str:  # never show the keys whole, even in a traceback
        return (
            f"MintedKeys(sandbox_key={redact(self.sandbox_key)!r}, "
            f"live_key={redact(self.live_key)!r}, org_id={self.org_id!r})"
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def list_organizations(
    backend_url: str, access_token: str, *, timeout: float = 10.0
) -> list[Organization] | None:
    """The signed-in user's organizations, or None when the server does not offer the list."""
    with make_client(backend_url, timeout=timeout) as client:
        response = send(client, "GET", "/cli/organizations", headers=_bearer(access_token))
    if response.status_code in (404, 405):
        return None
    if response.status_code != 200:
        raise BackendError(
            f"listing organizations failed: {server_message(response)}", status=response.status_code
        )
    data = json_object(response, "listing organizations")
    items = data.get("list")
    if not isinstance(items, list):
        raise BackendError("listing organizations: the answer has no `list`", status=200)
    orgs: list[Organization] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        org_id, name, slug = item.get("id"), _text(item.get("name")), _text(item.get("slug"))
        if isinstance(org_id, str) and org_id:
            slug_s = slug or _text(org_id) or "?"
            orgs.append(Organization(id=org_id, name=name or slug_s, slug=slug_s))
    return orgs


def _text(value: object) -> str | None:
    """A string from the server, without anything a terminal would act on; None if empty."""
    return (printable(value, 100) or None) if isinstance(value, str) else None


def mint_keys(
    backend_url: str, access_token: str, *, org_id: str | None, timeout: float = 10.0
) -> MintedKeys:
    """Mints a sandbox and a live key; checks both are well-formed Autumn keys."""
    body = {"org_id": org_id} if org_id else None
    with make_client(backend_url, timeout=timeout) as client:
        response = send(client, "POST", "/cli/api-keys", headers=_bearer(access_token), json=body)
    if response.status_code != 200:
        raise BackendError(
            f"minting API keys failed: {server_message(response)}", status=response.status_code
        )
    data = json_object(response, "minting API keys")
    sandbox, live = data.get("sandbox_key"), data.get("prod_key")
    if not isinstance(sandbox, str) or not is_valid_key(sandbox, "sandbox"):
        raise AtmnError(
            "the server's sandbox key is missing or malformed "
            "(expected am_sk_test_ and 42 letters or digits); nothing was written"
        )
    if not isinstance(live, str) or not is_valid_key(live, "live"):
        raise AtmnError(
            "the server's live key is missing or malformed "
            "(expected am_sk_live_ and 42 letters or digits); nothing was written"
        )
    returned_org = data.get("org_id")
    return MintedKeys(
        sandbox_key=sandbox,
        live_key=live,
        org_id=returned_org if isinstance(returned_org, str) else org_id,
    )
