"""The Flask application: pages, OAuth endpoints, the JSON API and the metadata document."""

from __future__ import annotations

import traceback
from typing import Any

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask, Response, abort, jsonify, make_response, request
from werkzeug.exceptions import HTTPException

from . import __version__, hosted, oauth, params
from .api import cli_bp, v1_bp
from .config import ServerConfig
from .context import EXTENSION_KEY, close_db
from .logsafe import printable_block, wsgi_text
from .pages import (
    DEVICE_LIMITER_KEY,
    OAUTH_SERVER_KEY,
    SIGN_IN_LIMITER_KEY,
    error_page,
    invalid_link_page,
)
from .pages import bp as pages_bp
from .templates import STYLE_SRC
from .throttle import FailureLimiter

_JSON_PREFIXES = ("/cli/", "/v1/", "/api/", "/.well-known/", "/healthz")
#: The OAuth endpoints whose parameters are checked before anything reads them.
_OAUTH_PATHS = (oauth.AUTHORIZE_PATH, oauth.TOKEN_PATH, oauth.DEVICE_PATH, oauth.REVOKE_PATH)


#: Why OAuth is refused over plain http at any other host name (authlib's rule).
HTTP_ONLY_ON_LOOPBACK = (
    "OAuth over plain http is answered only at localhost, 127.0.0.1 or [::1]; "
    "reach this server there, or put https in front of it"
)


def refuse_malformed() -> Response | None:
    """A malformed request to an OAuth endpoint: 400, its "not valid" page or an RFC 6749
    §5.2 error, before authlib or a page sees it (see `params`)."""
    if request.path not in _OAUTH_PATHS:
        return None
    pairs = params.decode_form(request.query_string)
    if pairs is not None and request.method == "POST":
        if request.mimetype == "application/x-www-form-urlencoded":
            body = params.decode_form(request.get_data(cache=True))
            pairs = None if body is None else pairs + body
        else:
            pairs += request.form.items(multi=True)
    problem = params.NOT_UTF8 if pairs is None else params.problem(pairs)
    if problem is None:
        return None
    if request.path == oauth.AUTHORIZE_PATH:
        return invalid_link_page(problem)
    response = jsonify(error="invalid_request", error_description=problem)
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


class App(Flask):
    def log_exception(self, exc_info: Any) -> None:
        """Flask's "Exception on <path>" log entry, with the path and traceback escaped."""
        trace = "".join(traceback.format_exception(*exc_info))
        self.logger.error(
            "Exception on %s [%s]\n%s",
            wsgi_text(request.environ.get("PATH_INFO", "")),
            wsgi_text(request.method),
            printable_block(trace),
        )


def create_app(cfg: ServerConfig, *, secret_key: str, cookie_name: str) -> Flask:
    app = App(__name__)
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME=cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions[EXTENSION_KEY] = cfg
    app.extensions[OAUTH_SERVER_KEY] = server = oauth.create_authorization_server(app, cfg)
    app.extensions[DEVICE_LIMITER_KEY] = FailureLimiter()
    app.extensions[SIGN_IN_LIMITER_KEY] = FailureLimiter(cfg.sign_in_limit, cfg.sign_in_window)
    # Device requests stored per client address (loopback included: before sign-in nothing
    # else tells clients apart); the overall cap on pending ones is the store's.
    device_requests = FailureLimiter(cfg.device_request_limit, cfg.device_request_window)
    app.teardown_appcontext(close_db)
    if cfg.hosted:
        app.before_request(hosted.refuse_cli)
    app.before_request(refuse_malformed)

    @app.post(oauth.TOKEN_PATH)
    def token() -> Response:
        if cfg.hosted:
            return hosted.token()
        return server.create_token_response()  # type: ignore[no-any-return]

    @app.post(oauth.REVOKE_PATH)
    def revoke() -> Response:
        return server.create_endpoint_response("revocation")  # type: ignore[no-any-return]

    @app.post(oauth.DEVICE_PATH)
    def device_authorization() -> Response:
        if not cfg.enabled("device"):
            abort(404)
        keys = [f"address:{request.remote_addr or '-'}"]
        wait, stamp = device_requests.attempt(keys)
        if wait > 0:
            return oauth.too_many_device_requests(wait)
        response: Response = server.create_endpoint_response("device_authorization")
        if response.status_code != 200:  # nothing stored: not counted
            device_requests.forgive(keys, stamp)
        return response

    metadata_paths = hosted.METADATA_PATHS if cfg.hosted else hosted.METADATA_PATHS[:1]

    def metadata() -> Response:
        if not cfg.enabled("metadata"):
            abort(404)
        response = jsonify(oauth.metadata(cfg))
        if cfg.hosted:
            response.headers["Cache-Control"] = hosted.METADATA_CACHE_CONTROL
        return response

    for number, path in enumerate(metadata_paths):
        app.add_url_rule(path, f"metadata_{number}", metadata, methods=["GET"])

    if cfg.hosted:

        @app.route("/.well-known/<path:rest>", methods=["GET", "POST"])
        def well_known_not_found(rest: str) -> Response:
            """Hosted Autumn's answer to any other discovery path (the OpenID document
            at the root included)."""
            return make_response(jsonify(error="not_found"), 404)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True, service="autumn-local", version=__version__, issuer=cfg.issuer)

    app.register_blueprint(pages_bp)
    app.register_blueprint(cli_bp)
    app.register_blueprint(v1_bp)

    @app.errorhandler(InsecureTransportError)
    def insecure_transport(error: InsecureTransportError) -> Response:
        """authlib refuses OAuth over plain http at a host name that is not loopback (a
        `--host` address reached from elsewhere): an RFC 6749 error, not a 500."""
        return hosted.oauth_error(400, error.error, HTTP_ONLY_ON_LOOPBACK)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.response is not None:
            return error.response  # type: ignore[return-value]
        status = error.code or 500
        # The authorize endpoint is a page a person sees, though under /api/.
        if request.path.startswith(_JSON_PREFIXES) and request.path != oauth.AUTHORIZE_PATH:
            code = (error.name or "error").lower().replace(" ", "_")
            response = jsonify(message=error.description, code=code)
            response.status_code = status
            return response
        return error_page(error.name or "Error", error.description or "", status)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                f"default-src 'none'; style-src {STYLE_SRC}; base-uri 'none';"
                " frame-ancestors 'none'",
            )
        return response

    return app
