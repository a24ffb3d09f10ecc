"""The server's RFC 8414 metadata: where it is, reading it, and which of our extensions it
advertises (contract §X).

Hosted Autumn serves the document at `{backend}/.well-known/oauth-authorization-server`
and, for its issuer `{backend}/api/auth`, at the RFC 8414 §3 form (the well-known suffix
between host and path) and the OpenID form (the suffix after the path). A server whose
metadata lacks `atmn_extensions`, or whose metadata cannot be read, offers none of our
extensions: the CLI then sends no request and no body field that needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atmn_auth.api.session import Session, json_object
from atmn_auth.errors import BackendError

OAUTH_SUFFIX = "/.well-known/oauth-authorization-server"
OPENID_SUFFIX = "/.well-known/openid-configuration"

#: Contract §X: every extension a server may advertise.
ORGANIZATIONS = "organizations"  # §2 GET /cli/organizations
ORGANIZATION_HINT = "organization_hint"  # §1 `organization=` on the authorization request
PAIRING_CODE = "pairing_code"  # §1 the consent page shows the pairing code
MINT_ORG_ID = "mint_org_id"  # §3 `org_id` in the mint body
KEY_NAMES = "key_names"  # §3/§7 `name` in the mint body
KEY_REVOCATION = "key_revocation"  # §5 DELETE /cli/api-keys/current
KEY_LISTING = "key_listing"  # §7 GET /cli/api-keys, DELETE /cli/api-keys/{id}
EXTENSIONS = (
    ORGANIZATIONS,
    ORGANIZATION_HINT,
    PAIRING_CODE,
    MINT_ORG_ID,
    KEY_NAMES,
    KEY_REVOCATION,
    KEY_LISTING,
)


def issuer_metadata_urls(issuer: str) -> tuple[str, str]:
    """Where an issuer's metadata is, in the order to try: RFC 8414 §3 (the well-known
    suffix between the host and the issuer's path), then the OpenID form (after it)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(issuer.rstrip("/"))
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, OAUTH_SUFFIX + path, "", ""))
    openid = urlunsplit((parts.scheme, parts.netloc, path + OPENID_SUFFIX, "", ""))
    return rfc8414, openid


def fetch_metadata(url: str, session: Session) -> dict[str, Any] | None:
    """The metadata document at `url`, or None when the server has none there (any 4xx).

    Any other answer but 200 (a redirect, a 5xx) raises `BackendError`; no answer raises
    `BackendUnreachable`."""
    response = session.request("GET", url)
    if 400 <= response.status_code < 500:
        return None
    if response.status_code != 200:
        raise BackendError(
            f"OAuth metadata at {url}: HTTP {response.status_code}", status=response.status_code
        )
    return json_object(response, f"OAuth metadata at {url}")


def extensions_of(meta: Mapping[str, Any] | None) -> frozenset[str]:
    """The extensions `meta` advertises (§X): the known names of its `atmn_extensions`."""
    listed = meta.get("atmn_extensions") if meta else None
    if not isinstance(listed, list):
        return frozenset()
    return frozenset(name for name in listed if isinstance(name, str) and name in EXTENSIONS)
