"""Protections every response and every sensitive endpoint gets: security headers, CSRF
(skipped only for API calls authenticated by a bearer token), rate limits, and the
client's true address behind trusted proxies."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace.accounts.access import bearer_token
from marketplace.config import ConfigurationError

log = logging.getLogger(__name__)

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
    # Before the CSRF check: Flask-WTF looks through the form's field names for the token
    # and fails on a multipart part that has none.
    _init_text_input(app)
    _init_csrf(app, csrf)
    _init_headers(app)
    _init_rate_limits(app)
    _init_id_range(app)


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
    def ids_in_range(endpoint: str | None, values: dict | None) -> None:
        for value in (values or {}).values():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
                abort(404)


# Text input ----------------------------------------------------------------------------

NUL = "\x00"
# What PostgreSQL text cannot hold: NUL, and surrogate code points, which have no UTF-8
# form. JSON's "\ud800" escape makes one (Python's JSON decoder also lets the raw bytes
# of one through); werkzeug itself replaces undecodable bytes in query, form and path.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NO_NUL = "must not contain NUL characters"
NO_SURROGATE = "must not contain lone surrogates"
BAD_BASIC = "must be base64-encoded UTF-8"
NAMELESS_PART = "every part of a multipart body needs a name"


@dataclass(frozen=True)
class Unstorable:
    """An input that is no text PostgreSQL can hold (or, for client credentials, no text
    at all): which one, and why, in English (web pages say it in the visitor's language)."""

    field: str
    message: str
    credentials: bool = False  # in the Authorization header


def unstorable(text: str) -> str | None:
    """Why PostgreSQL text cannot hold `text` (NO_NUL, NO_SURROGATE), or None if it can."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    return NO_NUL if found.group() == NUL else NO_SURROGATE


def storable(text: str) -> str:
    """`text` without the characters PostgreSQL text cannot hold."""
    return UNSTORABLE.sub("", text)


def _shown(name: str) -> str:
    """A field name fit to print back, without the characters that made it a problem."""
    return storable(name)


def _in_value(value: Any, path: str) -> Unstorable | None:
    """Where in a parsed JSON value unstorable text hides (`lines[0].title`), or None."""
    if isinstance(value, str):
        reason = unstorable(value)
        return Unstorable(_shown(path) or "body", reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            reason = unstorable(str(key))
            if reason:
                return Unstorable(_shown(where) or "body", reason)
            found = _in_value(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _in_value(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _in_form_value(name: str, value: str) -> Unstorable | None:
    """A form field as its view sees it. The API's form models (flask-openapi3) read each
    field as JSON when it parses, so `"\u0000"` arrives there as a NUL."""
    reason = unstorable(name) or unstorable(value)
    if reason:
        return Unstorable(_shown(name) or "?", reason)
    if request.path.startswith("/api/"):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None
        found = _in_value(decoded, "")
        if found is not None:
            return Unstorable(_shown(name) or "?", found.message)
    return None


def _in_basic_credentials() -> Unstorable | None:
    """Client id and secret of HTTP Basic on the OAuth endpoints, read the way Authlib
    reads them (base64, UTF-8, then percent-decoded as RFC 6749 section 2.3.1 asks).
    Authlib fails with an exception on what it cannot decode; here that is refused."""
    if not request.path.startswith("/oauth/"):
        return None
    header = request.headers.get("Authorization", "")
    if " " not in header:
        return None
    parts = header.split(None, 1)
    if len(parts) < 2:  # "Basic " alone
        return Unstorable("Authorization", BAD_BASIC, credentials=True)
    scheme, encoded = parts
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded).decode("utf-8")
    except ValueError:  # also UnicodeDecodeError
        return Unstorable("Authorization", BAD_BASIC, credentials=True)
    for part in decoded.split(":", 1):
        reason = unstorable(unquote(part))
        if reason:
            return Unstorable("Authorization", reason, credentials=True)
    return None


def unstorable_input() -> Unstorable | None:
    """The first input of the request (header, credentials, query, form, file name, JSON
    body, URL part) that PostgreSQL text cannot hold, or None. Refused up front, it is a
    4xx naming the field instead of a database or encoding error. A multipart part
    without a name (werkzeug files it under None) is refused here too: no view can read
    it, and code that expects field names to be text would fail on it."""
    if None in request.form or None in request.files:
        return Unstorable("body", NAMELESS_PART)
    for name, value in request.headers.items():
        reason = unstorable(value)
        if reason:
            return Unstorable(name, reason, credentials=name.lower() == "authorization")
    found = _in_basic_credentials()
    if found is not None:
        return found
    for name, value in request.args.items(multi=True):
        reason = unstorable(str(name)) or unstorable(value)
        if reason:
            return Unstorable(_shown(str(name)) or "?", reason)
    for name, value in request.form.items(multi=True):
        found = _in_form_value(str(name), value)
        if found is not None:
            return found
    for name, storage in request.files.items(multi=True):
        reason = unstorable(storage.filename or "")
        if reason:
            return Unstorable(name, reason)
    if request.is_json:
        found = _in_value(request.get_json(silent=True), "")
        if found is not None:
            return found
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (reason := unstorable(value)):
            return Unstorable(name, reason)
    return None


def _web_message(problem: Unstorable) -> str:
    if problem.message == NAMELESS_PART:
        return _("The form sent a part without a name.")
    if problem.message == NO_NUL:
        return _("%(field)s: must not contain NUL characters", field=problem.field)
    return _("%(field)s: must not contain lone surrogates", field=problem.field)


def _init_text_input(app: Flask) -> None:
    @app.before_request
    def refuse_unstorable_text():
        problem = unstorable_input()
        if problem is None:
            return None
        from marketplace.api.errors import FieldProblem, error_response, wants_json

        summary = f"{problem.field}: {problem.message}"
        if request.path.startswith("/oauth/"):
            if problem.credentials:
                # RFC 6749 section 5.2: the same answer as for an unknown client.
                from authlib.oauth2.rfc6749 import InvalidClientError

                from marketplace.accounts.oauth import authorization_server

                error = InvalidClientError(status_code=401, description=summary)
                return authorization_server().handle_error_response(request, error)
            return error_response(400, "invalid_request", summary)
        if wants_json():
            fields = [FieldProblem(field=problem.field, message=problem.message)]
            if problem.credentials:
                return error_response(401, "unauthorized", summary, fields)
            return error_response(422, "validation_failed", summary, fields)
        abort(400, description=_web_message(problem))
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


def _limit_from_config(key: str):
    return lambda: current_app.config[key]


def _init_rate_limits(app: Flask) -> None:
    for key, value in DEFAULT_LIMITS.items():
        app.config.setdefault(key, value)
    # Off in tests unless a test turns it on; on everywhere else.
    app.config.setdefault("RATELIMIT_ENABLED", not app.testing)
    storage = app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL")
    if storage:
        app.config["RATELIMIT_STORAGE_URI"] = storage
        if storage.startswith(("redis://", "rediss://")):
            # A Redis that does not answer must not hold a sign-in for long.
            app.config.setdefault(
                "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
            )
    else:
        # One process, one memory: fine for the demo and a single worker.
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"
        if app.config["FACTORYWEB_SETTINGS"].production and app.config["RATELIMIT_ENABLED"]:
            log.warning(
                "rate limits count in the memory of each web process: with several "
                "processes or servers each allows the full limit, and a restart forgets "
                "them; set RATELIMIT_STORAGE_URI (or REDIS_URL) to a Redis"
            )
    # When the storage is unreachable, sign-in and the token endpoint keep working: the
    # counters move to this process's memory (Flask-Limiter logs a warning, and returns to
    # the storage when it answers again), and any other storage error lets the request
    # through with the error logged. Refusing every sign-in during a Redis outage would
    # make Redis a single point of failure of the whole marketplace.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "factoryweb")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")

    # One limiter per application, so that apps with different settings (tests) never
    # share counters or switches.
    limiter = Limiter(key_func=_client_key, app=app)
    app.extensions[LIMITER_KEY] = limiter
    for endpoint, keys in LIMITED_ENDPOINTS.items():
        # Flask types a view as sync or async; Flask-Limiter's decorator turns that union
        # into one callable that fits neither, so the view is held as any callable here.
        view: Callable[..., Any] | None = app.view_functions.get(endpoint)
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
    def too_many_requests(error: RateLimitExceeded):
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
