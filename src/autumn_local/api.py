"""The JSON API: organizations and key minting (access token); `/v1` calls, listing and
revoking keys (secret key)."""

from __future__ import annotations

from typing import Any, NoReturn

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Blueprint, Response, abort, jsonify, make_response, request

from . import apikeys, hosted, scopes, store
from .context import config, db
from .models import Token
from .secrets_util import KEY_PATTERN, new_id


class AccessTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    def authenticate_token(self, token_string: str) -> Token | None:
        record = store.token_by_access(db(), token_string)
        return None if record is None else Token(record)


class JsonResourceProtector(ResourceProtector):  # type: ignore[misc]
    """Bearer access tokens; failures as `{"message", "code"}` like the rest of the API."""

    def raise_error_response(self, error: OAuth2Error) -> NoReturn:
        status = error.status_code
        if error.error in ("missing_authorization", "invalid_token", "unsupported_token_type"):
            status = 401
        message = error.description or "Invalid or missing access token"
        response = make_response(jsonify(message=message, code=error.error), status)
        for name, value in error.get_headers():
            if name.lower() == "www-authenticate":
                response.headers[name] = value
        abort(response)


require_token = JsonResourceProtector()
require_token.register_token_validator(AccessTokenValidator())

cli_bp = Blueprint("cli_api", __name__)
v1_bp = Blueprint("v1_api", __name__)


def json_error(status: int, message: str, code: str) -> Response:
    return make_response(jsonify(message=message, code=code), status)


@cli_bp.get("/cli/organizations")
def organizations() -> Response:
    if not config().enabled("organizations"):
        abort(404)
    with require_token.acquire("organisation:read") as token:
        record: store.TokenRecord = token.record
    orgs = store.user_orgs(db(), record.user_id)
    # The organization chosen on the consent page (contract §2); null for a grant that was
    # approved without one (a user who belongs to no organization).
    bound = record.org_id if config().enabled("bind") else None
    return jsonify(list=[org.as_json() for org in orgs], bound_org_id=bound)


@cli_bp.post("/cli/api-keys")
def mint_keys() -> Response:
    if config().hosted:
        return hosted.mint_keys()
    with require_token.acquire("apiKeys:create") as token:
        record: store.TokenRecord = token.record
    body: Any = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        return json_error(400, "The request body must be a JSON object.", "invalid_body")
    # Contract §3 (Autumn): `scopes` may only narrow what the token was granted.
    requested = body.get("scopes")
    if requested is not None and (
        not isinstance(requested, list)
        or not all(isinstance(s, str) and s in scopes.ALL_SCOPES for s in requested)
    ):
        return json_error(400, "Invalid scopes", "invalid_request")
    if requested is not None:
        lacking = scopes.missing(requested, record.scope.split())
        if lacking:
            message = f"Insufficient scopes. Missing: {', '.join(lacking)}"
            return json_error(403, message, "insufficient_scopes")
    name = body.get("name")
    if "name" in body:
        # `--disable keys`: like a server that refuses fields it does not know (contract §7)
        if not config().enabled("keys"):
            return json_error(400, "Unknown field: name", "unknown_field")
        problem = apikeys.name_problem(name)
        if problem is not None:
            return json_error(400, problem, "invalid_name")
    # `--disable bind`: a server that does not bind the consent page's choice to the
    # token, so the CLI must say which organization (contract §2: `bound_org_id` null)
    bound = record.org_id if config().enabled("bind") else None
    org_id = body.get("org_id") or bound
    if not org_id:
        return json_error(400, "No organization found. Please select an organization.", "no_org")
    if not isinstance(org_id, str):
        return json_error(400, "org_id must be a string.", "invalid_body")
    if bound is not None and org_id != bound:
        # The person approved one organization on the consent page: this token mints
        # keys for that one only.
        return json_error(
            403,
            "This access token was approved for another organization.",
            "organization_mismatch",
        )
    conn = db()
    if not store.is_member(conn, record.user_id, org_id):
        return json_error(403, "You are not a member of this organization.", "not_a_member")
    key_scopes = scopes.key_scopes(requested if requested is not None else record.scope.split())
    sandbox_key, prod_key = apikeys.mint_key_pair(
        conn,
        user_id=record.user_id,
        org_id=org_id,
        client_id=record.client_id,
        name=name,
        scopes=key_scopes,
    )
    return jsonify(
        sandbox_key=sandbox_key,
        prod_key=prod_key,
        org_id=org_id,
        user_id=record.user_id,
        client_id=record.client_id,
        scopes=key_scopes,
    )


def invalid_key() -> Response:
    return json_error(401, "Invalid secret key", "invalid_secret_key")


def presented_key() -> apikeys.ApiKey | None:
    """The active key in `Authorization: Bearer`, its use noted; None for a bad one."""
    auth = request.headers.get("Authorization", "")
    scheme, _, secret = auth.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not KEY_PATTERN.match(secret):
        return None
    conn = db()
    key = apikeys.active_key(conn, secret)
    if key is not None:
        apikeys.record_use(conn, key)
    return key


@cli_bp.get("/cli/api-keys")
def list_keys() -> Response:
    """Contract §7: the active keys of the presenting key's organization and environment."""
    if not config().enabled("keys"):
        abort(404)
    key = presented_key()
    if key is None:
        return invalid_key()
    listed = apikeys.org_keys(db(), key.org_id, key.env)
    return jsonify(list=[k.as_listing() for k in listed])


@cli_bp.delete("/cli/api-keys/current")
def revoke_current_key() -> Response:
    if not config().enabled("revoke-key"):
        abort(404)
    key = presented_key()
    if key is None:
        return invalid_key()
    apikeys.revoke_keys(db(), key_id=key.id)
    return Response(status=204)


@cli_bp.delete("/cli/api-keys/<key_id>")
def revoke_key_by_id(key_id: str) -> Response:
    """Contract §7: revoke a key of the presenting key's organization and environment
    (itself included), the keys `GET /cli/api-keys` lists for it.

    A key of another organization or of the other environment is "not found", like one that
    does not exist: a sandbox key cannot revoke the organization's live keys.
    """
    if not config().enabled("keys"):
        abort(404)
    key = presented_key()
    if key is None:
        return invalid_key()
    if not apikeys.revoke_org_key(db(), key.org_id, key.env, key_id):
        return json_error(404, "No such key in this organization and environment.", "key_not_found")
    return Response(status=204)


# --- /v1 (contract §4, both profiles) -------------------------------------------------------


class V1Refused(Exception):
    """A `/v1` request refused before its route runs; `response` is the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _mask(secret: str) -> str:
    """Hosted Autumn's echo of an unknown key: its first 15 characters, then one `*` for
    each character after them."""
    return secret[:15] + "*" * max(0, len(secret) - 15)


def v1_key() -> apikeys.ApiKey:
    """The active secret key in `Authorization: Bearer`, its use noted; else raises
    V1Refused with hosted Autumn's 401 (contract §4): `{"message", "code", "env"}`, no
    WWW-Authenticate."""
    auth = request.headers.get("Authorization", "")
    secret = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
    if not secret:
        raise V1Refused(
            hosted.autumn_error(
                401, "Secret key not found in Authorization header", "no_secret_key"
            )
        )
    if not secret.startswith("am_sk"):
        raise V1Refused(
            hosted.autumn_error(401, "Invalid authorization token prefix", "invalid_request")
        )
    key = None
    if KEY_PATTERN.match(secret):
        conn = db()
        key = apikeys.active_key(conn, secret)
        if key is not None:
            apikeys.record_use(conn, key)
    if key is None:
        raise V1Refused(
            hosted.autumn_error(401, f"Invalid secret key: {_mask(secret)}", "invalid_secret_key")
        )
    return key


def v1_key_with(*required: str) -> apikeys.ApiKey:
    """`v1_key()`, and 403 `insufficient_scopes` when the key lacks a scope the route
    needs (checked before the body is read, as hosted Autumn does)."""
    key = v1_key()
    lacking = scopes.key_allows(key.scopes, required)
    if lacking:
        raise V1Refused(
            hosted.autumn_error(
                403,
                f"Insufficient scopes. Missing: {', '.join(lacking)}",
                "insufficient_scopes",
                env=key.env,
            )
        )
    return key


@v1_bp.errorhandler(V1Refused)
def v1_refused(refused: V1Refused) -> Response:
    return refused.response


@v1_bp.get("/v1/organization/me")
def organization_me() -> Response:
    key = v1_key()
    body: dict[str, Any] = {
        "id": key.org_id,
        "name": key.org_name,
        "slug": key.org_slug,
        "env": key.env,
    }
    # A dashboard key has no user (contract §4); the stand-in has no display names, so a
    # user's name is the part of their email before the @.
    if key.created_via != "dashboard" and key.user_email:
        body["user"] = {
            "id": key.user_id,
            "email": key.user_email,
            "name": key.user_email.partition("@")[0],
        }
    return jsonify(body)


@v1_bp.get("/v1/customers")
def customers() -> Response:
    key = v1_key_with("customers:read")
    return jsonify(list=[], total=0, env=key.env)


def _body_text(name: str) -> str | None:
    body = request.get_json(silent=True)
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


@v1_bp.post("/v1/check")
def check() -> Response:
    """Whether a customer may use a feature: always allowed here (no balances are kept)."""
    v1_key_with("balances:read")
    return jsonify(
        allowed=True,
        customer_id=_body_text("customer_id"),
        feature_id=_body_text("feature_id"),
    )


@v1_bp.post("/v1/track")
def track() -> Response:
    """Record usage: accepted and forgotten."""
    v1_key_with("balances:write")
    return jsonify(
        id=new_id("evt_"),
        code="event_received",
        customer_id=_body_text("customer_id"),
        feature_id=_body_text("feature_id"),
    )


@v1_bp.post("/v1/attach")
def attach() -> Response:
    """Attach a plan to a customer: accepted and forgotten."""
    v1_key_with("billing:write")
    return jsonify(
        success=True,
        customer_id=_body_text("customer_id"),
        product_id=_body_text("product_id") or _body_text("plan_id"),
    )
