"""The pages a person uses: sign-in, the consent page at the authorize endpoint, the device
verification page (RFC 8628), sign-out."""

from __future__ import annotations

import math
import time
from typing import Any, cast

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template_string,
    request,
    url_for,
)

from . import apikeys, hosted, params, scopes, store, templates
from .browser_session import browser_id, csrf_ok, csrf_token, signed_in_user
from .browser_session import sign_in_as as start_session
from .browser_session import sign_out as end_session
from .context import config, db
from .models import GrantUser
from .oauth import AUTHORIZE_PATH, DEVICE_PAGE_PATH
from .pairing import pairing_code
from .throttle import FailureLimiter, is_loopback

OAUTH_SERVER_KEY = "autumn_local_oauth"
DEVICE_LIMITER_KEY = "autumn_local_device_limiter"
SIGN_IN_LIMITER_KEY = "autumn_local_sign_in_limiter"

bp = Blueprint("pages", __name__)


def oauth_server() -> AuthorizationServer:
    return current_app.extensions[OAUTH_SERVER_KEY]


def page(template: str, status: int = 200, **context: Any) -> Response:
    html = render_template_string(template, stylesheet=templates.STYLE, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(
    heading: str, message: str, status: int = 400, code: str = "", hint: str = ""
) -> Response:
    return page(
        templates.ERROR,
        status,
        title=heading,
        heading=heading,
        message=message,
        code=code,
        hint=hint,
    )


def invalid_link_page(message: str, code: str = "invalid_request") -> Response:
    """The "not valid" page for a malformed or refused sign-in request (400)."""
    return error_page(
        "This sign-in link is not valid",
        message or "The application sent an invalid sign-in request.",
        400,
        code,
        hint="Close this page and start the sign-in again from your terminal (atmn login).",
    )


def csrf_refused() -> Response:
    return error_page(
        "Request refused",
        "This form was not sent by this page, or it has expired. Go back and try again.",
        400,
        "csrf_failed",
    )


def safe_next(target: str | None) -> str:
    """Only ever send a person back to the authorize endpoint or the device page (no open
    redirect)."""
    if not target or "\\" in target:
        return url_for("pages.home")
    if target.startswith(AUTHORIZE_PATH):
        return target
    if target == DEVICE_PAGE_PATH or target.startswith(DEVICE_PAGE_PATH + "?"):
        return target
    return url_for("pages.home")


def continuing(target: str) -> bool:
    """Whether signing in leads on to approving something a terminal started."""
    return target.startswith((AUTHORIZE_PATH, DEVICE_PAGE_PATH))


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


def sign_in_limiter() -> FailureLimiter:
    return cast(FailureLimiter, current_app.extensions[SIGN_IN_LIMITER_KEY])


def sign_in_attempt_keys(email: str) -> list[str]:
    """Failed sign-ins count per account (known or not), and per browser session for a
    loopback client (every local process is 127.0.0.1: counting per address there would let
    any of them lock every local user out), else per client address."""
    account = f"account:{email.casefold()}"
    if is_loopback(request.remote_addr):
        return [account, f"browser:{browser_id()}"]
    return [account, f"address:{request.remote_addr or '-'}"]


def too_many_sign_ins(wait: float) -> str:
    seconds = max(1, math.ceil(wait))
    return f"Too many failed sign-ins; try again in {seconds} second{'s' if seconds != 1 else ''}."


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    wanted = request.values.get("next")
    if params.decode_form(request.query_string) is None or (
        wanted is not None and params.next_is_malformed(wanted)
    ):
        return invalid_link_page("The address to return to after signing in is malformed.")
    target = safe_next(wanted)
    action = url_for("pages.sign_in", next=target)

    def form(status: int = 200, email: str = "", error: str = "") -> Response:
        return page(
            templates.SIGN_IN,
            status,
            title="Sign in",
            action=action,
            csrf_token=csrf_token(),
            continuing=continuing(target),
            email=email,
            error=error,
        )

    if request.method == "GET":
        if signed_in_user() is not None:
            return cast(Response, redirect(target))
        return form()
    if not csrf_ok():
        return csrf_refused()
    email = request.form.get("email", "").strip()
    limiter = sign_in_limiter()
    keys = sign_in_attempt_keys(email)
    # Counted as a failure before the password is checked (parallel guesses cannot all get
    # in under the limit), taken back when it is right.
    wait, stamp = limiter.attempt(keys)
    if wait > 0:
        response = form(429, email, too_many_sign_ins(wait))
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    user = store.authenticate(db(), email, request.form.get("password", ""))
    if user is None:
        return form(401, email, "Wrong email or password.")
    limiter.forgive(keys, stamp)
    start_session(user)
    return cast(Response, redirect(target))


@bp.post("/sign-out")
def sign_out() -> Response:
    if not csrf_ok():
        return csrf_refused()
    end_session()
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
    return invalid_link_page(error.description or "", error.error or "invalid_request")


@bp.route(AUTHORIZE_PATH, methods=["GET", "POST"])
def authorize() -> Response:
    if config().hosted:
        early = hosted.authorize_precheck()
        if early is not None:
            return early
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
    show = hosted_consent_page if config().hosted else consent_page
    if request.method == "GET":
        return show(grant, user, orgs)

    if not csrf_ok():
        return csrf_refused()
    if request.form.get("action") != "approve":
        if config().hosted:
            return authorization_error(
                AccessDeniedError(
                    description="User denied access",
                    redirect_uri=grant.request.payload.redirect_uri,
                    state=grant.request.payload.state,
                )
            )
        return cast(Response, server.create_authorization_response(grant=grant, grant_user=None))

    org_id = request.form.get("org_id") or None
    if config().hosted and org_id is None and len(orgs) == 1:
        org_id = orgs[0].id  # the dropdown was disabled: a browser does not send it
    if orgs and (org_id is None or not store.is_member(conn, user.id, org_id)):
        return show(grant, user, orgs, error="Choose one of your organizations.")
    if org_id is not None:
        store.set_last_org(conn, user.id, org_id)
    grant_user = GrantUser(user.id, org_id)
    return cast(Response, server.create_authorization_response(grant=grant, grant_user=grant_user))


def consent_page(
    grant: Any, user: store.User, orgs: list[store.Organization], error: str = ""
) -> Response:
    scopes = (grant.request.scope or "").split()
    return _consent(
        templates.CONSENT,
        grant,
        user,
        error,
        orgs=orgs,
        selected_org=preselected_org(user, orgs, request.args.get("organization")),
        pairing_code=pairing_code(grant.request.payload.state or ""),
        permissions=describe_scopes(scopes),
        scopes=scopes,
    )


def hosted_consent_page(
    grant: Any, user: store.User, orgs: list[store.Organization], error: str = ""
) -> Response:
    """Hosted Autumn's consent page: no pairing code, no organization hint, Cancel and
    Authorize (contract §1)."""
    requested = (grant.request.scope or "").split()
    return _consent(
        templates.HOSTED_CONSENT,
        grant,
        user,
        error,
        orgs=orgs,
        selected_org=preselected_org(user, orgs, None),
        permissions=scopes.hosted_permissions(requested),
    )


def _consent(template: str, grant: Any, user: store.User, error: str, **context: Any) -> Response:
    """What both consent pages show and post: the client, the user, the form's target and
    CSRF token, and the error (400 when there is one)."""
    return page(
        template,
        400 if error else 200,
        title="Authorize",
        client_name=client_display_name(grant.client.get_client_id()),
        email=user.email,
        action=request.full_path,
        csrf_token=csrf_token(),
        error=error,
        **context,
    )


@bp.get("/api/auth/error")
def oauth_error_page() -> Response:
    """Better Auth's error page, where the hosted profile sends a browser whose authorize
    request cannot go back to the client (contract §1: `?error=invalid_redirect`)."""
    if not config().hosted:
        abort(404)
    error = request.args.get("error", "")[:100]
    description = request.args.get("error_description", "")[:300]
    return error_page(
        "Sign-in error",
        description or "Something went wrong with this sign-in request.",
        200,
        error,
        hint="Close this page and start the sign-in again from your terminal.",
    )


def client_display_name(client_id: str) -> str:
    """What the consent page calls the client: the CLI by name, any other by its id."""
    return "Autumn CLI (atmn)" if client_id == store.CLI_CLIENT_ID else client_id


def preselected_org(
    user: store.User, orgs: list[store.Organization], hint: str | None
) -> str | None:
    """The organization the dropdown starts on.

    The request's `organization` hint (an id or a slug, contract §1) when it names one of the
    user's organizations; an unknown hint is ignored (RFC 6749 §3.1). Else the organization
    used last, else the first.
    """
    if hint:
        for org in orgs:
            if hint == org.id or hint.casefold() == org.slug.casefold():
                return org.id
    if any(o.id == user.last_org_id for o in orgs):
        return user.last_org_id
    return orgs[0].id if orgs else None


# --- device verification page (RFC 8628 §3.3) ---------------------------------------------

_DEVICE_PROBLEMS = {
    "empty": "Enter the code your terminal shows.",
    "malformed": "That is not a code from your terminal: it has 8 letters, like BCDF-GHJK.",
    "unknown": "That code is not valid. Check the code in your terminal and enter it again.",
    "expired": "That code has expired. Run atmn login again in your terminal for a new one.",
    "used": "That code was already used. Run atmn login again in your terminal for a new one.",
}


#: A device request older than this gets a warning on its confirm page: a person who started
#: a sign-in enters its code within a minute or two; an old one is likely someone else's link.
STALE_DEVICE_REQUEST = 120.0


def ago(seconds: float) -> str:
    """ "just now", "12 seconds ago", "3 minutes ago", "2 hours ago" (rounded down)."""
    whole = max(0, int(seconds))
    if whole < 2:
        return "just now"
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if whole >= size:
            count = whole // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    raise AssertionError("unreachable")


def device_limiter() -> FailureLimiter:
    return cast(FailureLimiter, current_app.extensions[DEVICE_LIMITER_KEY])


def device_attempt_keys(user: store.User) -> tuple[list[str], list[str], str]:
    """(keys, shared keys, owner) for `FailureLimiter.attempt`: failed code entries count per
    browser session, and per client address unless it is loopback (where every local process
    is); per user too, but the user's count holds back only a session that entered a wrong
    code itself (anyone may be signed in as the demo user: their wrong codes must not make a
    person's valid code fail)."""
    browser = f"browser:{browser_id()}"
    keys = [browser]
    if not is_loopback(request.remote_addr):
        keys.append(f"address:{request.remote_addr or '-'}")
    return keys, [f"user:{user.id}"], browser


def find_device_request(text: str) -> tuple[store.DeviceRecord | None, str]:
    """The pending, current request whose user code `text` is, or None and what is wrong."""
    if not text.strip():
        return None, "empty"
    if store.normalize_user_code(text) is None:
        return None, "malformed"
    record = store.device_by_user_code(db(), text)
    if record is None:
        return None, "unknown"
    if record.used or record.status != "pending":
        return None, "used"
    if record.is_expired():
        return None, "expired"
    return record, ""


@bp.route(DEVICE_PAGE_PATH, methods=["GET", "POST"])
def device() -> Response:
    if not config().enabled("device"):
        abort(404)
    user = signed_in_user()
    if user is None:
        if request.method == "POST":
            return csrf_refused()
        return cast(Response, redirect(url_for("pages.sign_in", next=request.full_path)))
    if request.method == "GET":
        return device_enter_page(user, request.args.get("user_code", "")[:32])

    if not csrf_ok():
        return csrf_refused()
    text = request.form.get("user_code", "")[:32]
    limiter = device_limiter()
    keys, shared, owner = device_attempt_keys(user)
    # Counted as a failure before the code is looked up (parallel guesses cannot all get in
    # under the limit), taken back when it is a current code.
    wait, stamp = limiter.attempt(keys, shared=shared, owner=owner)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        unit = "minute" if minutes == 1 else "minutes"
        message = f"Too many wrong codes. Wait {minutes} {unit}, then try again."
        response = device_enter_page(user, text, error=message, status=429)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    record, problem = find_device_request(text)
    if record is None:
        return device_enter_page(user, text, error=_DEVICE_PROBLEMS[problem], status=400)
    limiter.forgive(keys + shared, stamp)

    user_code = store.normalize_user_code(text) or ""
    conn = db()
    orgs = store.user_orgs(conn, user.id)
    action = request.form.get("action")
    if action not in ("approve", "deny"):
        return device_confirm_page(user, record, user_code, orgs)
    org_id = request.form.get("org_id") or None
    approve = action == "approve"
    if approve and orgs and (org_id is None or not store.is_member(conn, user.id, org_id)):
        return device_confirm_page(
            user, record, user_code, orgs, error="Choose one of your organizations."
        )
    if not approve:
        org_id = None
    outcome = store.decide_device(conn, record.id, user_id=user.id, org_id=org_id, approve=approve)
    if outcome != "ok":
        return device_enter_page(user, text, error=_DEVICE_PROBLEMS[outcome], status=400)
    org = None
    if org_id is not None:
        store.set_last_org(conn, user.id, org_id)
        org = store.get_org(conn, org_id)
    return page(
        templates.DEVICE_DONE,
        title="Approved" if approve else "Denied",
        approved=approve,
        client_name=client_display_name(record.client_id),
        org_name=org.name if org else "",
    )


def device_enter_page(
    user: store.User, user_code: str, error: str = "", status: int = 200
) -> Response:
    normalized = store.normalize_user_code(user_code)
    return page(
        templates.DEVICE_ENTER,
        status,
        title="Enter your code",
        email=user.email,
        user_code=normalized or user_code.strip(),
        action=url_for("pages.device"),
        csrf_token=csrf_token(),
        error=error,
    )


def device_confirm_page(
    user: store.User,
    record: store.DeviceRecord,
    user_code: str,
    orgs: list[store.Organization],
    error: str = "",
) -> Response:
    scopes = record.scope.split()
    age = time.time() - record.created_at
    return page(
        templates.DEVICE_CONFIRM,
        400 if error else 200,
        title="Authorize",
        client_name=client_display_name(record.client_id),
        email=user.email,
        user_code=user_code,
        requested_at=apikeys.iso(record.created_at),
        requested_ago=ago(age),
        stale=age >= STALE_DEVICE_REQUEST,
        orgs=orgs,
        selected_org=preselected_org(user, orgs, record.org_hint),
        permissions=describe_scopes(scopes),
        scopes=scopes,
        action=url_for("pages.device"),
        csrf_token=csrf_token(),
        error=error,
    )


# How the consent page words each scope: (resource, action) -> (noun, verb).
_NOUNS = {
    "customers": "customers",
    "features": "features",
    "plans": "plans",
    "rewards": "rewards",
    "apiKeys": "API keys",
    "organisation": "your organization",
}
_VERBS = {
    "create": "change",
    "update": "change",
    "delete": "change",
    "read": "read",
    "list": "read",
    "write": "write",
}
_VERB_ORDER = ("create", "read", "write", "change")


def describe_scopes(scopes: list[str]) -> list[str]:
    """The requested scopes in plain words, one line per group of resources.

    The CLI's 20 scopes read: "Read and change customers, features and plans", "Read and
    write rewards", "Create and read API keys", "Read your organization". A scope this does
    not know is shown as it is.
    """
    verbs: dict[str, set[str]] = {}
    unknown: list[str] = []
    for scope in scopes:
        resource, _, action = scope.partition(":")
        if resource not in _NOUNS or action not in _VERBS:
            unknown.append(scope)
            continue
        verb = "create" if (resource, action) == ("apiKeys", "create") else _VERBS[action]
        verbs.setdefault(resource, set()).add(verb)
    groups: list[tuple[tuple[str, ...], list[str]]] = []
    for resource in _NOUNS:
        if resource not in verbs:
            continue
        ordered = tuple(v for v in _VERB_ORDER if v in verbs[resource])
        if groups and groups[-1][0] == ordered and resource != "organisation":
            groups[-1][1].append(_NOUNS[resource])
        else:
            groups.append((ordered, [_NOUNS[resource]]))
    return [f"{_and(list(v)).capitalize()} {_and(nouns)}" for v, nouns in groups] + unknown


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
