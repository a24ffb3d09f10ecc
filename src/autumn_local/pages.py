"""The pages a person uses: sign-in, the consent page at the authorize endpoint, sign-out."""

from __future__ import annotations

import hmac
import secrets
from typing import Any, cast

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)

from . import store, templates
from .context import db
from .models import GrantUser
from .oauth import AUTHORIZE_PATH

OAUTH_SERVER_KEY = "autumn_local_oauth"

bp = Blueprint("pages", __name__)


def oauth_server() -> AuthorizationServer:
    return current_app.extensions[OAUTH_SERVER_KEY]


# --- session helpers ----------------------------------------------------------------------


def csrf_token() -> str:
    token = session.get("csrf_token")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf_token")
    sent = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


def signed_in_user() -> store.User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, str):
        return None
    return store.get_user(db(), user_id)


def page(template: str, status: int = 200, **context: Any) -> Response:
    html = render_template_string(template, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(heading: str, message: str, status: int = 400, code: str = "") -> Response:
    return page(templates.ERROR, status, title=heading, heading=heading, message=message, code=code)


def csrf_refused() -> Response:
    return error_page(
        "Request refused",
        "This form was not sent by this page, or it has expired. Go back and try again.",
        400,
        "csrf_failed",
    )


def safe_next(target: str | None) -> str:
    """Only ever send a person back to the authorize endpoint (no open redirect)."""
    if target and target.startswith(AUTHORIZE_PATH) and "\\" not in target:
        return target
    return url_for("pages.home")


# --- pages --------------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    user = signed_in_user()
    return page(
        templates.HOME,
        title="Home",
        email=user.email if user else "",
        csrf_token=csrf_token(),
        sign_in=url_for("pages.sign_in"),
        sign_out=url_for("pages.sign_out"),
    )


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    target = safe_next(request.values.get("next"))
    action = url_for("pages.sign_in", next=target)
    if request.method == "GET":
        if signed_in_user() is not None:
            return cast(Response, redirect(target))
        return page(
            templates.SIGN_IN,
            title="Sign in",
            action=action,
            csrf_token=csrf_token(),
            email="",
            error="",
        )
    if not csrf_ok():
        return csrf_refused()
    email = request.form.get("email", "").strip()
    user = store.authenticate(db(), email, request.form.get("password", ""))
    if user is None:
        return page(
            templates.SIGN_IN,
            401,
            title="Sign in",
            action=action,
            csrf_token=csrf_token(),
            email=email,
            error="Wrong email or password.",
        )
    session.clear()  # a new session on sign-in: nothing carried over from before
    session["user_id"] = user.id
    csrf_token()
    return cast(Response, redirect(target))


@bp.post("/sign-out")
def sign_out() -> Response:
    if not csrf_ok():
        return csrf_refused()
    session.clear()
    return cast(Response, redirect(url_for("pages.home")))


# --- authorization endpoint ---------------------------------------------------------------


def authorization_error(error: OAuth2Error) -> Response:
    """Redirect the error to the client when its redirect URI was verified; else show it."""
    server = oauth_server()
    if error.redirect_uri:
        response = server.handle_error_response(None, error)
        # The same hook `create_authorization_response` runs: it adds RFC 9207's `iss`.
        server.execute_hook("after_create_authorization_response", response)
        return cast(Response, response)
    return error_page(
        "This sign-in link is not valid",
        error.description or "The application sent an invalid sign-in request.",
        400,
        error.error or "invalid_request",
    )


@bp.route(AUTHORIZE_PATH, methods=["GET", "POST"])
def authorize() -> Response:
    server = oauth_server()
    user = signed_in_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return authorization_error(error)

    if user is None:
        if request.method == "POST":
            return csrf_refused()
        return cast(Response, redirect(url_for("pages.sign_in", next=request.full_path)))

    conn = db()
    orgs = store.user_orgs(conn, user.id)
    if request.method == "GET":
        return consent_page(grant, user, orgs)

    if not csrf_ok():
        return csrf_refused()
    if request.form.get("action") != "approve":
        return cast(Response, server.create_authorization_response(grant=grant, grant_user=None))

    org_id = request.form.get("org_id") or None
    if orgs and (org_id is None or not store.is_member(conn, user.id, org_id)):
        return consent_page(grant, user, orgs, error="Choose one of your organizations.")
    if org_id is not None:
        store.set_last_org(conn, user.id, org_id)
    grant_user = GrantUser(user.id, org_id)
    return cast(Response, server.create_authorization_response(grant=grant, grant_user=grant_user))


def consent_page(
    grant: Any, user: store.User, orgs: list[store.Organization], error: str = ""
) -> Response:
    selected = user.last_org_id if any(o.id == user.last_org_id for o in orgs) else None
    if selected is None and orgs:
        selected = orgs[0].id
    return page(
        templates.CONSENT,
        400 if error else 200,
        title="Authorize",
        client_name=grant.client.record.name,
        email=user.email,
        orgs=orgs,
        selected_org=selected,
        scopes=(grant.request.scope or "").split(),
        action=request.full_path,
        csrf_token=csrf_token(),
        error=error,
    )
