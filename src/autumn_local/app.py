"""The Flask application: pages, OAuth endpoints, the JSON API and the metadata document."""

from __future__ import annotations

from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from . import __version__, oauth
from .api import cli_bp, v1_bp
from .config import ServerConfig
from .context import EXTENSION_KEY, close_db
from .pages import DEVICE_LIMITER_KEY, OAUTH_SERVER_KEY, error_page
from .pages import bp as pages_bp
from .templates import STYLE_SRC
from .throttle import FailureLimiter

_JSON_PREFIXES = ("/cli/", "/v1/", "/api/", "/.well-known/", "/healthz")


def create_app(cfg: ServerConfig, *, secret_key: str, cookie_name: str) -> Flask:
    app = Flask(__name__)
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
    app.teardown_appcontext(close_db)

    @app.post(oauth.TOKEN_PATH)
    def token() -> Response:
        return server.create_token_response()  # type: ignore[no-any-return]

    @app.post(oauth.REVOKE_PATH)
    def revoke() -> Response:
        return server.create_endpoint_response("revocation")  # type: ignore[no-any-return]

    @app.post(oauth.DEVICE_PATH)
    def device_authorization() -> Response:
        if not cfg.enabled("device"):
            abort(404)
        return server.create_endpoint_response("device_authorization")  # type: ignore[no-any-return]

    @app.get("/.well-known/oauth-authorization-server")
    def metadata() -> Response:
        if not cfg.enabled("metadata"):
            abort(404)
        return jsonify(oauth.metadata(cfg))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True, service="autumn-local", version=__version__, issuer=cfg.issuer)

    app.register_blueprint(pages_bp)
    app.register_blueprint(cli_bp)
    app.register_blueprint(v1_bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.response is not None:
            return error.response  # type: ignore[return-value]
        status = error.code or 500
        if request.path.startswith(_JSON_PREFIXES):
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
