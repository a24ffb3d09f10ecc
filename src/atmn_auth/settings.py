"""Which server and which key: the environment flags and overrides of the contract.

Everything here is read from the environment mapping passed in (never `os.environ`
directly), and checked once: a malformed URL, or plain `http://` to a host that is not
this machine, is a one-line usage error before anything is sent.
"""

from __future__ import annotations

from atmn_auth.errors import UsageError
from atmn_auth.keyformat import KEY_VARS
from atmn_auth.records import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping

    from atmn_auth.keyformat import KeyKind

HOSTED_BACKEND = "https://api.useautumn.com"
HOSTED_WEB = "https://app.useautumn.com"
LOCAL_BACKEND = "http://localhost:8080"
LOCAL_WEB = "http://localhost:3000"

CLIENT_ID = "hAWUopQqLnsSwuRgeRzIBzKslwXmQUSr"
CALLBACK_PORTS: tuple[int, ...] = (31448, 31449, 31450, 31451, 31452)
SCOPES: tuple[str, ...] = (
    "customers:create",
    "customers:read",
    "customers:list",
    "customers:update",
    "customers:delete",
    "features:create",
    "features:read",
    "features:list",
    "features:update",
    "features:delete",
    "plans:create",
    "plans:read",
    "plans:list",
    "plans:update",
    "plans:delete",
    "rewards:read",
    "rewards:write",
    "apiKeys:create",
    "apiKeys:read",
    "organisation:read",
)

AUTHORIZE_PATH = "/api/auth/oauth2/authorize"
TOKEN_PATH = "/api/auth/oauth2/token"
REVOKE_PATH = "/api/auth/oauth2/revoke"

INSECURE_HTTP_VAR = "ATMN_ALLOW_INSECURE_HTTP"
DEFAULT_TIMEOUT = 10.0  # seconds to wait for the server, per request
_FALSY = frozenset({"", "0", "false", "no", "off"})


class Settings(Frozen):
    """Everything that depends on `-p`, `-l` and the `ATMN_*` variables.

    Immutable, compared and hashed by its fields, like the frozen dataclass it was: a
    plain class so that `atmn env --offline` need not import `dataclasses` at start-up.
    """

    # field order = __init__'s arguments (not sorted, unlike __slots__ may be)
    _FIELDS = ("prod", "local", "backend_url", "web_url", "client_id", "issuer")
    __slots__ = _FIELDS
    prod: bool
    local: bool
    backend_url: str
    web_url: str
    client_id: str
    issuer: str | None

    def __init__(
        self,
        prod: bool,
        local: bool,
        backend_url: str,
        web_url: str,
        client_id: str,
        issuer: str | None,
    ) -> None:
        for name, value in zip(
            self._FIELDS, (prod, local, backend_url, web_url, client_id, issuer), strict=True
        ):
            object.__setattr__(self, name, value)

    @property
    def kind(self) -> KeyKind:
        """The environment selected: "live" with `-p`, else "sandbox"."""
        return "live" if self.prod else "sandbox"

    @property
    def key_var(self) -> str:
        return KEY_VARS[self.kind]

    def command(self, name: str) -> str:
        """`atmn NAME` with the flags that chose this server and key (`atmn -l -p env`)."""
        flags = ("-l " if self.local else "") + ("-p " if self.prod else "")
        return f"atmn {flags}{name}"

    def login_command(self) -> str:
        """The `atmn login` command line that signs in against the same server."""
        return "atmn -l login" if self.local else "atmn login"

    def keys_page(self, kind: KeyKind) -> str:
        """The dashboard page of this environment's web app that lists `kind` keys."""
        return self.web_url + ("/sandbox/dev" if kind == "sandbox" else "/dev") + "?tab=api_keys"

    def apps_page(self) -> str:
        """The dashboard's "Authorized Apps": revoking atmn there deletes every key atmn
        minted for that organization (all logins, both environments)."""
        return self.web_url + "/settings?tab=apps"

    def revoke_elsewhere(self, key: str) -> str:
        """Where a person deletes `key` when the CLI could not: this server's keys page."""
        from atmn_auth.keyformat import key_kind

        if self.local:
            return f"revoke it with `autumn-local keys revoke --last4 {key[-4:]}`"
        return f"delete it in the Autumn dashboard: {self.keys_page(key_kind(key) or 'sandbox')}"

    def minted_for_nothing(
        self, gone: bool, what: str = "", keys: str = "the keys just minted"
    ) -> str:
        """What became of a pair of `keys` minted and then not kept: revoked (`gone`, the
        server said so), or still working, with where to delete them."""
        keys = f"{keys} {what}" if what else keys
        if gone:
            return f"{keys} were revoked"
        if self.local:
            where = "revoke them with `autumn-local keys revoke`"
        else:
            where = (
                f"delete them in the Autumn dashboard ({self.keys_page('sandbox')} and "
                f"{self.keys_page('live')})"
            )
        return (
            f"{keys} were not saved but still work, as this server cannot revoke keys from "
            f"the command line: {where}"
        )


def load_settings(*, prod: bool, local: bool, environ: Mapping[str, str]) -> Settings:
    backend = LOCAL_BACKEND if local else HOSTED_BACKEND
    web = LOCAL_WEB if local else HOSTED_WEB
    override = environ.get("ATMN_BACKEND_URL", "").strip()
    if override:
        backend = check_url(override, "ATMN_BACKEND_URL", environ)
    issuer = environ.get("ATMN_OAUTH_ISSUER", "").strip() or None
    if issuer is not None:
        check_url(issuer, "ATMN_OAUTH_ISSUER", environ)
    client_id = environ.get("ATMN_OAUTH_CLIENT_ID", "").strip() or CLIENT_ID
    return Settings(
        prod=prod,
        local=local,
        backend_url=backend.rstrip("/"),
        web_url=web,
        client_id=client_id,
        issuer=issuer,
    )


def flag_set(environ: Mapping[str, str], name: str) -> bool:
    """True when `name` is set to anything but an empty or false-looking value."""
    return environ.get(name, "").strip().lower() not in _FALSY


def is_loopback_host(host: str) -> bool:
    """`localhost` (and `*.localhost`), 127.0.0.0/8 and ::1: this machine, never proxied."""
    import ipaddress

    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str, environ: Mapping[str, str]) -> str:
    """`url` when it is a usable server address; else a one-line `UsageError` naming `what`.

    Plain `http://` is only for this machine: keys and tokens would otherwise cross the
    network in clear, unless the user says so with `ATMN_ALLOW_INSECURE_HTTP=1`.
    """
    from urllib.parse import urlsplit

    from atmn_auth.text import printable

    shown = printable(url, 120)
    if shown != url or " " in url:
        raise UsageError(f"{what} holds spaces or control characters: {shown!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UsageError(f"{what} is not a valid URL ({exc}): {shown}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what} must be an http:// or https:// URL with a host, not {shown}")
    local = is_loopback_host(parts.hostname)
    if parts.scheme == "http" and not local and not flag_set(environ, INSECURE_HTTP_VAR):
        raise UsageError(
            f"{what} {shown} is plain http: keys and tokens would cross the network "
            f"unencrypted; use https://, or set {INSECURE_HTTP_VAR}=1 if you must"
        )
    return url
