"""Every call of the Autumn contract, through one `Session`.

With an OAuth access token: list organizations (§2), mint keys (§3). With a secret key:
which organization it belongs to (§4), revoke it (§5), list the keys of its organization
and environment and revoke one of them by id (§7). What comes back from the server is
checked and cleaned (`printable`) before anyone prints it.

Only hosted Autumn's own routes (§3, §4) are always there. A call that needs one of our
extensions is sent only when the server advertises it (§X, `Autumn.offers`, from one
metadata request made the first time it matters); otherwise it answers as a server
without it would ("unsupported", None) without sending anything. Hosted Autumn answers a
route it lacks with `401 no_auth_header` (§H), which is read the same way, never as "the
key is unknown or revoked".

Outcomes of `organization_me`, which callers tell apart by what comes back: the
`Organization` when accepted; `InvalidKey` (401); `BackendUnreachable` (no answer,
`timed_out` telling a timeout); `BackendError` for any other answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from atmn_auth.api import metadata as ext
from atmn_auth.api.session import Session, json_object, server_message
from atmn_auth.errors import AtmnError, BackendError, BackendUnreachable, InvalidKey
from atmn_auth.keyformat import PREFIXES, KeyKind, is_valid_key, key_kind, redact
from atmn_auth.text import printable

if TYPE_CHECKING:
    from atmn_auth.settings import Settings

ORGANIZATIONS_PATH = "/cli/organizations"
API_KEYS_PATH = "/cli/api-keys"
ORGANIZATION_ME_PATH = "/v1/organization/me"
REVOKE_CURRENT_KEY_PATH = "/cli/api-keys/current"
#: Sent on every `/v1` call, as the official CLI does.
API_VERSION = "2.1.0"
#: Hosted Autumn's answer to a `/cli/*` route it does not have (§H).
NO_SUCH_ROUTE_CODE = "no_auth_header"
#: What a key minted through the CLI lacks, and what Autumn then refuses (§3).
MISSING_SCOPE_EFFECTS = (
    ("balances:read", "check"),
    ("balances:write", "track"),
    ("billing:write", "attach"),
)

RevokeOutcome = Literal["revoked", "already_invalid", "unsupported"]
RevokeByIdOutcome = Literal["revoked", "not_found"]

#: What a key id may look like before it goes into a URL path: `current` is not one (it
#: names the presenting key, §5), nor anything with a slash, a dot-dot or a query.
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
_LAST4_RE = re.compile(r"[A-Za-z0-9]{4}")


@dataclass(frozen=True)
class Organization:
    """An Autumn organization as far as it is known: hosted Autumn may omit the id, an
    organization list has no `env`."""

    id: str | None
    name: str
    slug: str | None
    env: str | None = None
    #: Who the key was minted for (`user` of `/v1/organization/me`; none for a dashboard key)
    user_email: str | None = None
    user_name: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization | None:
        """From a server's JSON object; None when it names no organization."""
        org_id, name, slug = _text(data.get("id")), _text(data.get("name")), _text(data.get("slug"))
        if not (org_id or slug or name):
            return None
        user = data.get("user")
        user = user if isinstance(user, dict) else {}
        return cls(
            id=org_id,
            name=name or slug or org_id or "?",
            slug=slug,
            env=_text(data.get("env")),
            user_email=_text(user.get("email")),
            user_name=_text(user.get("name")),
        )

    def user_label(self) -> str | None:
        """`Ada Lovelace <ada@example.com>`, the email alone, or None when no user is known."""
        if self.user_email and self.user_name and self.user_name != self.user_email:
            return f"{self.user_name} <{self.user_email}>"
        return self.user_email or self.user_name

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

    def user_json(self) -> dict[str, Any] | None:
        if not (self.user_email or self.user_name):
            return None
        return {"email": self.user_email, "name": self.user_name}


@dataclass(frozen=True)
class MintedKeys:
    sandbox_key: str
    live_key: str
    org_id: str | None
    #: What the keys may do, as the server said (§3 `scopes`); None when it did not say.
    scopes: tuple[str, ...] | None = None

    def __repr__(self) -> str:  # never show the keys whole, even in a traceback
        return (
            f"MintedKeys(sandbox_key={redact(self.sandbox_key)!r}, "
            f"live_key={redact(self.live_key)!r}, org_id={self.org_id!r})"
        )

    def all(self) -> tuple[str, str]:
        return (self.sandbox_key, self.live_key)

    def of(self, kind: KeyKind) -> str:
        return self.sandbox_key if kind == "sandbox" else self.live_key

    def refused_calls(self) -> list[str]:
        """The API calls Autumn will refuse with these keys for want of a scope (§3), when
        the server said what the keys may do."""
        if self.scopes is None:
            return []
        return [call for scope, call in MISSING_SCOPE_EFFECTS if scope not in self.scopes]


@dataclass(frozen=True)
class ListedKey:
    """One key as §7 lists it: never the key itself, only its last 4 characters."""

    id: str
    name: str
    env: KeyKind
    last4: str
    created_at: datetime | None
    last_used_at: datetime | None
    created_via: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListedKey | None:
        """From one entry of the server's `list`; None when it lacks a usable id, an
        environment or the last 4 characters (nothing could be said or done with it)."""
        key_id, env, last4 = data.get("id"), data.get("env"), data.get("last4")
        if not (isinstance(key_id, str) and usable_key_id(key_id)):
            return None
        if env not in ("sandbox", "live"):
            return None
        if not (isinstance(last4, str) and _LAST4_RE.fullmatch(last4)):
            return None
        return cls(
            id=key_id,
            name=_text(data.get("name")) or "(unnamed)",
            env="sandbox" if env == "sandbox" else "live",
            last4=last4,
            created_at=parse_time(data.get("created_at")),
            last_used_at=parse_time(data.get("last_used_at")),
            created_via=_text(data.get("created_via")),
        )

    def label(self) -> str:
        """`NAME (sandbox)`: the server gives both keys of a pair one name."""
        suffix = f" ({self.env})"
        return self.name if self.name.endswith(suffix) else self.name + suffix

    def redacted(self) -> str:
        """`am_sk_test_…Ab12`, as every other key is shown."""
        return f"{PREFIXES[self.env]}…{self.last4}"

    def is_key(self, key: str | None) -> bool:
        """Whether `key` could be this one: same environment, same last 4 characters."""
        return bool(key) and key_kind(key or "") == self.env and (key or "")[-4:] == self.last4


def usable_key_id(key_id: str) -> bool:
    """Whether `key_id` may be put in `/cli/api-keys/{id}` (never `current`, §5)."""
    return bool(_KEY_ID_RE.fullmatch(key_id)) and key_id != "current"


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from the server, in UTC (a time without a zone is taken as UTC);
    None when absent or unreadable."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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


def error_code(response: Any) -> str | None:
    """The `code` of an Autumn error body (§H), or None."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def lacks_route(response: Any) -> bool:
    """Whether `response` is hosted Autumn's answer to a `/cli/*` route it does not have
    (§H: 401 `no_auth_header`, whatever the bearer), or another server's 404/405."""
    status = response.status_code
    return status in (404, 405) or (status == 401 and error_code(response) == NO_SUCH_ROUTE_CODE)


def _rejected(response: Any) -> InvalidKey:
    """A 401 for a secret key, in words. Autumn's own message repeats the key's first 15
    characters (§4), which is more of it than atmn ever shows: that part is left out."""
    message = server_message(response)
    if error_code(response) == "invalid_secret_key":
        message = message.split(":", 1)[0]
    return InvalidKey(f"the server rejected the key: {message}")


class Autumn:
    """The Autumn API of one backend, spoken through `session`.

    `extensions` are what the server advertises (§X); when not given, they are read from
    the server's metadata (the issuer's, when there is one) the first time they matter. A
    server that cannot be reached then raises `BackendUnreachable` from the call that
    needed them (never "this server cannot"); unreadable metadata means none.
    """

    def __init__(
        self,
        session: Session,
        backend_url: str,
        *,
        issuer: str | None = None,
        extensions: frozenset[str] | None = None,
    ) -> None:
        import threading

        self.session = session
        self.backend_url = backend_url.rstrip("/")
        self.issuer = issuer
        self._extensions = extensions
        self._lock = threading.Lock()

    @classmethod
    def of(
        cls, settings: Settings, session: Session, *, extensions: frozenset[str] | None = None
    ) -> Autumn:
        """The Autumn API of the server `settings` chose."""
        return cls(session, settings.backend_url, issuer=settings.issuer, extensions=extensions)

    @property
    def extensions(self) -> frozenset[str]:
        with self._lock:
            if self._extensions is None:
                self._extensions = self._read_extensions()
            return self._extensions

    def offers(self, extension: str) -> bool:
        """Whether the server advertises `extension` (§X)."""
        return extension in self.extensions

    def _read_extensions(self) -> frozenset[str]:
        urls = (
            ext.issuer_metadata_urls(self.issuer)
            if self.issuer
            else (self.backend_url + ext.OAUTH_SUFFIX,)
        )
        for url in urls:
            try:
                meta = ext.fetch_metadata(url, self.session)
            except BackendUnreachable:
                raise  # nothing is known: the call that needed it says so, as its own failure
            except AtmnError:
                return frozenset()
            if meta is not None:
                return ext.extensions_of(meta)
        return frozenset()

    def _call(
        self, method: str, path: str, credential: str, *, timeout: float | None = None, **kw: Any
    ) -> Any:
        headers = _bearer(credential)
        if path.startswith("/v1/"):
            headers["X-API-Version"] = API_VERSION
        return self.session.request(
            method, self.backend_url + path, headers=headers, timeout=timeout, **kw
        )

    # --- with an OAuth access token --------------------------------------------------------

    def organizations(self, access_token: str) -> OrganizationList | None:
        """The signed-in user's organizations, or None when the server does not offer §2."""
        if not self.offers(ext.ORGANIZATIONS):
            return None
        response = self._call("GET", ORGANIZATIONS_PATH, access_token)
        if lacks_route(response):
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
        self, access_token: str, *, org_id: str | None = None, name: str | None = None
    ) -> MintedKeys:
        """Mints a sandbox and a live key; checks both are well-formed Autumn keys.

        `org_id` and `name` go in the body only where the server advertises them
        (`mint_org_id`, `key_names`): hosted Autumn refuses any body field but
        `resource`/`scopes` (§3), and mints for the organization chosen on the consent page.
        """
        body: dict[str, str] = {}
        if org_id and self.offers(ext.MINT_ORG_ID):
            body["org_id"] = org_id
        if name and self.offers(ext.KEY_NAMES):
            body["name"] = name
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
        scopes = data.get("scopes")
        return MintedKeys(
            sandbox_key=sandbox,
            live_key=live,
            org_id=returned_org if isinstance(returned_org, str) else body.get("org_id"),
            scopes=tuple(s for s in scopes if isinstance(s, str))
            if isinstance(scopes, list)
            else None,
        )

    # --- with a secret key -----------------------------------------------------------------

    def organization_me(self, key: str, *, timeout: float | None = None) -> Organization:
        """`GET /v1/organization/me` with `key`: its organization, or an error above."""
        response = self._call("GET", ORGANIZATION_ME_PATH, key, timeout=timeout)
        if response.status_code == 401:
            raise _rejected(response)
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

    def which_work(self, keys: list[str], *, timeout: float = 5.0) -> dict[str, bool | None]:
        """Whether each of `keys` still works (`/v1/organization/me`, all at once): True
        (accepted), False (401: unknown or revoked), None (no usable answer)."""
        asked = {
            key: self.session.submit(partial(self.organization_me, key, timeout=timeout))
            for key in keys
        }
        works: dict[str, bool | None] = {}
        for key, answer in asked.items():
            try:
                answer.result()
                works[key] = True
            except InvalidKey:
                works[key] = False
            except AtmnError:
                works[key] = None
        return works

    def revoke_key(self, key: str, *, timeout: float | None = None) -> RevokeOutcome:
        """`DELETE /cli/api-keys/current` with `key`.

        "revoked" (204), "already_invalid" (401 `invalid_secret_key`: unknown or already
        revoked), "unsupported" (a server without §5, such as hosted Autumn: then nothing
        is sent, or its answer is §H's). Anything else raises `BackendError`; no answer
        raises `BackendUnreachable`.
        """
        if not self.offers(ext.KEY_REVOCATION):
            return "unsupported"
        response = self._call("DELETE", REVOKE_CURRENT_KEY_PATH, key, timeout=timeout)
        status = response.status_code
        if status in (200, 204):
            return "revoked"
        if lacks_route(response):
            return "unsupported"
        if status == 401:
            return "already_invalid"
        raise BackendError(f"revoking the key: {server_message(response)}", status=status)

    def revoke_quietly(self, keys: MintedKeys) -> bool:
        """Best effort: revokes keys that must not stay alive (minted for nothing). True
        only when the server confirmed that neither works any more."""
        gone = True
        for key in keys.all():
            try:
                gone = self.revoke_key(key, timeout=5.0) != "unsupported" and gone
            except AtmnError:
                gone = False
        return gone

    # --- §7: the keys of a key's organization and environment ------------------------------

    def list_keys(self, key: str, *, timeout: float | None = None) -> list[ListedKey] | None:
        """`GET /cli/api-keys` with `key`: the keys of its organization and environment,
        or None when the server does not offer §7 (as hosted Autumn: nothing is sent).

        A 401 raises `InvalidKey`; any other answer `BackendError`; no answer
        `BackendUnreachable`. Entries the CLI could not use (see `ListedKey.from_json`)
        are left out.
        """
        if not self.offers(ext.KEY_LISTING):
            return None
        response = self._call("GET", API_KEYS_PATH, key, timeout=timeout)
        status = response.status_code
        if lacks_route(response):
            return None
        if status == 401:
            raise _rejected(response)
        if status != 200:
            raise BackendError(f"listing keys failed: {server_message(response)}", status=status)
        data = json_object(response, "listing keys")
        items = data.get("list")
        if not isinstance(items, list):
            raise BackendError("listing keys: the answer has no `list`", status=200)
        listed = (ListedKey.from_json(item) for item in items if isinstance(item, dict))
        return [entry for entry in listed if entry is not None]

    def revoke_key_by_id(
        self, key: str, key_id: str, *, timeout: float | None = None
    ) -> RevokeByIdOutcome:
        """`DELETE /cli/api-keys/{key_id}` with `key`: "revoked" (204), "not_found" (404:
        no such key in that organization, which is also what a server without §7 says,
        so ask `list_keys` first). 401 raises `InvalidKey`; anything else `BackendError`."""
        if not usable_key_id(key_id):
            raise BackendError(f"not a key id the CLI will send: {printable(key_id, 40)!r}")
        if not self.offers(ext.KEY_LISTING):
            raise BackendError(f"{self.backend_url} does not offer revoking keys by id")
        path = f"{API_KEYS_PATH}/{quote(key_id, safe='')}"
        response = self._call("DELETE", path, key, timeout=timeout)
        status = response.status_code
        if status in (200, 204):
            return "revoked"
        if status == 404:
            return "not_found"
        if status == 401:
            raise _rejected(response)
        raise BackendError(f"revoking key {key_id}: {server_message(response)}", status=status)
