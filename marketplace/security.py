"""Protections every response and every sensitive endpoint gets: security headers, CSRF
(skipped only for API calls authenticated by a bearer token), rate limits, and the
client's true address behind trusted proxies."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace.accounts.access import bearer_token
from marketplace.config import ConfigurationError

LIMITER_KEY = "factoryweb.limiter"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Stylesheets only from the site; style attributes (bar widths) are allowed.
        "style-src 'self'",
        "style-src-elem 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=63072000; includeSubDomains"

# Rate limits, per client address unless said otherwise; each is a config key.
DEFAULT_LIMITS = {
    "RATELIMIT_LOGIN": "10 per minute; 100 per hour",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "5 per minute; 30 per hour",
    "RATELIMIT_SIGNUP": "5 per minute; 30 per hour",
    "RATELIMIT_PASSWORD_RESET": "5 per minute; 30 per hour",
    "RATELIMIT_TOKEN": "30 per minute",
}
LIMITED_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "accounts.login": ("RATELIMIT_LOGIN", "RATELIMIT_LOGIN_PER_ACCOUNT"),
    "accounts.oidc_login": ("RATELIMIT_LOGIN",),
    "accounts.signup": ("RATELIMIT_SIGNUP",),
    "accounts.forgot_password": ("RATELIMIT_PASSWORD_RESET",),
    "accounts.reset_password": ("RATELIMIT_PASSWORD_RESET",),
    "oauth.issue_token": ("RATELIMIT_TOKEN",),
    "oauth.revoke_token": ("RATELIMIT_TOKEN",),
}
LIMITED_METHODS = {"accounts.oidc_login": ["GET"]}


def init_security(app: Flask, csrf: CSRFProtect) -> None:
    _init_proxies(app)
    _init_csrf(app, csrf)
    _init_headers(app)
    _init_rate_limits(app)
    _init_id_range(app)
    _init_text_input(app)


# Proxies -------------------------------------------------------------------------------


def _init_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client's address, scheme and host come
    from their X-Forwarded-* headers (the last that many entries, which the proxies wrote
    themselves): rate limits count per visitor, not per load balancer. Without proxies
    the headers are ignored, since any client can send them."""
    raw = str(app.config.get("TRUSTED_PROXIES") or "0").strip()
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigurationError("TRUSTED_PROXIES must be a whole number of proxies from 0 to 10")
    hops = int(raw)
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


# Object ids ----------------------------------------------------------------------------

# Primary keys are PostgreSQL `integer`s; a larger id in a URL names nothing.
MAX_ID = 2**31 - 1


def _init_id_range(app: Flask) -> None:
    @app.url_value_preprocessor
    def ids_in_range(endpoint: str | None, values: dict | None) -> None:  # type: ignore[type-arg]
        for value in (values or {}).values():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
                abort(404)


# Text input ----------------------------------------------------------------------------

NUL = "\x00"


def _nul_in(value: Any, path: str) -> str | None:
    """Where in a parsed JSON body a NUL character hides (`lines[0].title`), or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return where.replace(NUL, "")
            found = _nul_in(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_in(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def field_with_nul() -> str | None:
    """The first input of the request (query, form, file name, JSON body, URL part) that
    holds a NUL character, or None. PostgreSQL text cannot store one: refused up front,
    it is a 4xx naming the field instead of a database error."""
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if NUL in str(name) or (isinstance(value, str) and NUL in value):
                return str(name).replace(NUL, "") or "?"
    for name, storage in request.files.items(multi=True):
        if NUL in (storage.filename or ""):
            return name
    if request.is_json:
        found = _nul_in(request.get_json(silent=True), "")
        if found is not None:
            return found or "body"
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and NUL in value:
            return name
    return None


def _init_text_input(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():  # type: ignore[no-untyped-def]
        field = field_with_nul()
        if field is None:
            return None
        from marketplace.api.errors import FieldProblem, error_response, wants_json

        message = "must not contain NUL characters"
        if wants_json():
            return error_response(
                422,
                "validation_failed",
                f"{field}: {message}",
                [FieldProblem(field=field, message=message)],
            )
        if request.path.startswith("/oauth/"):
            return error_response(400, "invalid_request", f"{field}: {message}")
        abort(400, description=_("%(field)s: must not contain NUL characters", field=field))
        return None


# CSRF ----------------------------------------------------------------------------------


def _init_csrf(app: Flask, csrf: CSRFProtect) -> None:
    """Flask-WTF checks every write; here it is told to skip API requests that carry a
    bearer token. Those are authenticated by the token alone (the session cookie is not
    looked at), so a forged cross-site request gains nothing from the victim's cookie."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @app.before_request
    def check_csrf() -> None:
        if not current_app.config.get("WTF_CSRF_ENABLED", True):
            return
        if bearer_token() is not None:
            return
        csrf.protect(apply_exemptions=True)


# Headers -------------------------------------------------------------------------------


def _init_headers(app: Flask) -> None:
    production = app.config["FACTORYWEB_SETTINGS"].production

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response


# Rate limits ---------------------------------------------------------------------------


def _account_key() -> str:
    """Login attempts per account, wherever they come from."""
    email = request.form.get("email", "")
    return "account:" + email.strip().lower()[:254]


def _client_key() -> str:
    return get_remote_address() or "unknown"


def _limit_from_config(key: str):  # type: ignore[no-untyped-def]
    return lambda: current_app.config[key]


def _init_rate_limits(app: Flask) -> None:
    for key, value in DEFAULT_LIMITS.items():
        app.config.setdefault(key, value)
    # Off in tests unless a test turns it on; on everywhere else.
    app.config.setdefault("RATELIMIT_ENABLED", not app.testing)
    storage = app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL")
    if storage:
        app.config["RATELIMIT_STORAGE_URI"] = storage
    else:
        # One process, one memory: fine for the demo and a single worker.
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "factoryweb")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")

    # One limiter per application, so that apps with different settings (tests) never
    # share counters or switches.
    limiter = Limiter(key_func=_client_key, app=app)
    app.extensions[LIMITER_KEY] = limiter
    for endpoint, keys in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        methods = LIMITED_METHODS.get(endpoint, ["POST"])
        for key in keys:
            key_func = _account_key if key == "RATELIMIT_LOGIN_PER_ACCOUNT" else _client_key
            view = limiter.limit(
                _limit_from_config(key),
                key_func=key_func,
                methods=methods,
                scope=f"{endpoint}:{key}",
            )(view)
        app.view_functions[endpoint] = view

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(error: RateLimitExceeded):  # type: ignore[no-untyped-def]
        retry_after = None
        if error.response is not None:
            retry_after = error.response.headers.get("Retry-After")
        if request.path.startswith(("/api/", "/oauth/")):
            from marketplace.api.errors import error_response

            response = error_response(
                429, "too_many_requests", f"rate limit exceeded: {error.description}"
            )
        else:
            response = Response(
                render_template("accounts/too_many_requests.html", limit=error.description),
                status=429,
            )
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return response
