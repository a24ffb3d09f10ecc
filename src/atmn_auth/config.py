"""Which server and which key: the environment flags and overrides of the contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from atmn_auth.keys import KEY_VARS, KeyKind

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


@dataclass(frozen=True)
class Settings:
    """Everything that depends on `-p`, `-l` and the `ATMN_*` variables."""

    prod: bool
    local: bool
    backend_url: str
    web_url: str
    client_id: str
    issuer: str | None

    @property
    def kind(self) -> KeyKind:
        return "live" if self.prod else "sandbox"

    @property
    def key_var(self) -> str:
        return KEY_VARS[self.kind]

    @property
    def env_name(self) -> str:
        return "live" if self.prod else "sandbox"


def load_settings(*, prod: bool, local: bool, environ: Mapping[str, str]) -> Settings:
    backend = LOCAL_BACKEND if local else HOSTED_BACKEND
    web = LOCAL_WEB if local else HOSTED_WEB
    override = environ.get("ATMN_BACKEND_URL", "").strip()
    if override:
        backend = override
    issuer = environ.get("ATMN_OAUTH_ISSUER", "").strip() or None
    client_id = environ.get("ATMN_OAUTH_CLIENT_ID", "").strip() or CLIENT_ID
    return Settings(
        prod=prod,
        local=local,
        backend_url=backend.rstrip("/"),
        web_url=web,
        client_id=client_id,
        issuer=issuer,
    )
