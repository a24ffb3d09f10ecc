"""The objects authlib's grants and endpoints work with, over the stored records."""

from __future__ import annotations

import time
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE, DeviceCredentialMixin

from .store import ClientRecord, CodeRecord, DeviceRecord, TokenRecord


@dataclass(frozen=True)
class GrantUser:
    """A signed-in user together with the organization chosen on the consent page."""

    user_id: str
    org_id: str | None


class Client(ClientMixin):  # type: ignore[misc]
    """A public client: no secret, exact redirect URIs, the code, device and refresh grants.

    The device grant is refused anyway when the server runs with `--disable device`: its
    grant is then not registered.
    """

    GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_CODE_GRANT_TYPE)

    def __init__(self, record: ClientRecord) -> None:
        self.record = record
        self.client_id = record.client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # the redirect URI must be given, and match exactly

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.record.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.record.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.GRANT_TYPES


class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, record: CodeRecord) -> None:
        self.record = record
        self.code_challenge = record.code_challenge
        self.code_challenge_method = record.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope


class DeviceCredential(DeviceCredentialMixin):  # type: ignore[misc]
    """A device authorization request (RFC 8628) as authlib's device code grant sees it."""

    def __init__(self, record: DeviceRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def get_user_code(self) -> str:
        return ""  # only its hash is stored; the grant works from the record instead

    def is_expired(self) -> bool:
        return self.record.is_expired()


class Token(TokenMixin):  # type: ignore[misc]
    def __init__(self, record: TokenRecord, client: Client | None = None) -> None:
        self.record = record
        self._client = client

    def check_client(self, client: Client) -> bool:
        return bool(client.get_client_id() == self.record.client_id)

    def get_scope(self) -> str:
        return self.record.scope

    def get_expires_in(self) -> int:
        return self.record.expires_in

    def is_expired(self) -> bool:
        return self.record.issued_at + self.record.expires_in <= time.time()

    def is_revoked(self) -> bool:
        return self.record.access_revoked

    def get_user(self) -> GrantUser:
        return GrantUser(self.record.user_id, self.record.org_id)

    def get_client(self) -> Client | None:
        return self._client
