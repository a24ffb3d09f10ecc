"""Every call of the Autumn contract, through one `Session`.

With an OAuth access token: list organizations (§2), mint keys (§3). With a secret key:
which organization it belongs to (§4), revoke it (§5). What comes back from the server
is checked and cleaned (`printable`) before anyone prints it.

Outcomes of `organization_me`, which callers tell apart by what comes back: the
`Organization` when accepted; `KeyRejected` (401); `BackendUnreachable` (no answer,
`timed_out` telling a timeout); `BackendError` for any other answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from atmn_auth.api.session import Session, json_object, server_message
from atmn_auth.errors import AtmnError, BackendError, KeyRejected
from atmn_auth.keys import is_valid_key, redact
from atmn_auth.text import printable

ORGANIZATIONS_PATH = "/cli/organizations"
API_KEYS_PATH = "/cli/api-keys"
ORGANIZATION_ME_PATH = "/v1/organization/me"
REVOKE_CURRENT_KEY_PATH = "/cli/api-keys/current"

RevokeOutcome = Literal["revoked", "already_invalid", "unsupported"]


@dataclass(frozen=True)
class Organization:
    """An Autumn organization as far as it is known: hosted Autumn may omit the id, an
    organization list has no `env`."""

    id: str | None
    name: str
    slug: str | None
    env: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization | None:
        """From a server's JSON object; None when it names no organization."""
        org_id, name, slug = _text(data.get("id")), _text(data.get("name")), _text(data.get("slug"))
        if not (org_id or slug or name):
            return None
        return cls(
            id=org_id, name=name or slug or org_id or "?", slug=slug, env=_text(data.get("env"))
        )

    def label(self) -> str:
        """`Acme (acme)`, or the slug alone when it is the name."""
        shown = self.slug or self.id or "?"
        return f"{self.name} ({shown})" if self.name and self.name != shown else shown

    def same_as(self, other: Organization) -> bool | None:
        """Whether both name one organization; None when nothing comparable is known."""
        if self.id and other.id:
            return self.id == other.id
        if self.slug and other.slug:
            return self.slug == other.slug
        return None

    def matches(self, wanted: str) -> bool:
        """Whether `wanted` (an id, or a slug in any case) names this organization."""
        return wanted == self.id or (self.slug or "").casefold() == wanted.casefold()

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "slug": self.slug, "env": self.env}


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

    def all(self) -> tuple[str, str]:
        return (self.sandbox_key, self.live_key)


class OrganizationList(list[Organization]):
    """The signed-in user's organizations (§2), and the one the token is bound to: the
    organization chosen on the consent page (`bound_id`; None when the server binds
    none)."""

    def __init__(self, orgs: list[Organization], bound_id: str | None = None) -> None:
        super().__init__(orgs)
        self.bound_id = bound_id

    @property
    def bound(self) -> Organization | None:
        return next((org for org in self if org.id == self.bound_id), None)

    def find(self, wanted: str) -> Organization | None:
        """The organization `wanted` (an id, or a slug in any case) names, if listed."""
        return next((org for org in self if org.matches(wanted)), None)


def _text(value: object) -> str | None:
    """A string from the server, without anything a terminal would act on; None if empty."""
    return (printable(value, 100) or None) if isinstance(value, str) else None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Autumn:
    """The Autumn API of one backend, spoken through `session`."""

    def __init__(self, session: Session, backend_url: str) -> None:
        self.session = session
        self.backend_url = backend_url.rstrip("/")

    def _call(
        self, method: str, path: str, credential: str, *, timeout: float | None = None, **kw: Any
    ) -> Any:
        return self.session.request(
            method, self.backend_url + path, headers=_bearer(credential), timeout=timeout, **kw
        )

    # --- with an OAuth access token --------------------------------------------------------

    def organizations(self, access_token: str) -> OrganizationList | None:
        """The signed-in user's organizations, or None when the server does not offer §2."""
        response = self._call("GET", ORGANIZATIONS_PATH, access_token)
        if response.status_code in (404, 405):
            return None
        if response.status_code != 200:
            raise BackendError(
                f"listing organizations failed: {server_message(response)}",
                status=response.status_code,
            )
        data = json_object(response, "listing organizations")
        items = data.get("list")
        if not isinstance(items, list):
            raise BackendError("listing organizations: the answer has no `list`", status=200)
        orgs = [Organization.from_json(item) for item in items if isinstance(item, dict)]
        bound = data.get("bound_org_id")
        return OrganizationList(
            [org for org in orgs if org is not None and org.id],
            bound if isinstance(bound, str) and bound else None,
        )

    def mint_keys(
        self, access_token: str, *, org_id: str | None, name: str | None = None
    ) -> MintedKeys:
        """Mints a sandbox and a live key; checks both are well-formed Autumn keys.

        `name` (contract §7) is sent in the body; a server that refuses it with 400 is
        asked once more without it, and names the keys itself.
        """
        body: dict[str, str] = {"org_id": org_id} if org_id else {}
        if name:
            body["name"] = name
        response = self._call("POST", API_KEYS_PATH, access_token, json=body or None)
        if response.status_code == 400 and name:
            body.pop("name")
            response = self._call("POST", API_KEYS_PATH, access_token, json=body or None)
        if response.status_code != 200:
            raise BackendError(
                f"minting API keys failed: {server_message(response)}",
                status=response.status_code,
            )
        data = json_object(response, "minting API keys")
        sandbox, live = data.get("sandbox_key"), data.get("prod_key")
        for kind, key, prefix in (("sandbox", sandbox, "test"), ("live", live, "live")):
            if not isinstance(key, str) or not is_valid_key(key, kind):  # type: ignore[arg-type]
                raise AtmnError(
                    f"the server's {kind} key is missing or malformed "
                    f"(expected am_sk_{prefix}_ and 42 letters or digits); nothing was written"
                )
        assert isinstance(sandbox, str) and isinstance(live, str)
        returned_org = data.get("org_id")
        return MintedKeys(
            sandbox_key=sandbox,
            live_key=live,
            org_id=returned_org if isinstance(returned_org, str) else org_id,
        )

    # --- with a secret key -----------------------------------------------------------------

    def organization_me(self, key: str, *, timeout: float | None = None) -> Organization:
        """`GET /v1/organization/me` with `key`: its organization, or an error above."""
        response = self._call("GET", ORGANIZATION_ME_PATH, key, timeout=timeout)
        if response.status_code == 401:
            raise KeyRejected(f"the server rejected the key: {server_message(response)}")
        if response.status_code != 200:
            raise BackendError(
                f"{ORGANIZATION_ME_PATH} answered {server_message(response)}",
                status=response.status_code,
            )
        data = json_object(response, ORGANIZATION_ME_PATH)
        org = Organization.from_json(data)
        if org is None or not (_text(data.get("name")) or _text(data.get("slug"))):
            raise BackendError(
                f"{ORGANIZATION_ME_PATH} answered without an organization name or slug", status=200
            )
        return org

    def organization_of(self, key: str) -> Organization | None:
        """The organization of `key`, or None when the server cannot say (best effort)."""
        try:
            return self.organization_me(key, timeout=5.0)
        except AtmnError:
            return None

    def revoke_key(self, key: str, *, timeout: float | None = None) -> RevokeOutcome:
        """`DELETE /cli/api-keys/current` with `key`.

        "revoked" (204), "already_invalid" (401: unknown or already revoked), "unsupported"
        (404/405: a server without this extension, such as hosted Autumn today). Anything
        else raises `BackendError`; no answer raises `BackendUnreachable`.
        """
        response = self._call("DELETE", REVOKE_CURRENT_KEY_PATH, key, timeout=timeout)
        status = response.status_code
        if status in (200, 204):
            return "revoked"
        if status == 401:
            return "already_invalid"
        if status in (404, 405):
            return "unsupported"
        raise BackendError(f"revoking the key: {server_message(response)}", status=status)

    def revoke_quietly(self, keys: MintedKeys) -> None:
        """Best effort: revokes keys that must not stay alive (minted for nothing)."""
        for key in keys.all():
            try:
                self.revoke_key(key, timeout=5.0)
            except AtmnError:
                continue
