"""Rate limits on sign-in, sign-up, password reset and the token endpoints, per client
address (sign-in also per account); counters in Redis when configured."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import TooManyRequests

from marketplace.api.errors import error_response
from marketplace.security.hosts import from_environment
from marketplace.web.errors import error_page

log = logging.getLogger(__name__)

LIMITER_KEY = "factoryweb.limiter"

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


def _account_key() -> str:
    """Login attempts per account, wherever they come from."""
    email = request.form.get("email", "")
    return "account:" + email.strip().lower()[:254]


def _client_key() -> str:
    return get_remote_address() or "unknown"


def _limit_from_config(key: str):
    return lambda: current_app.config[key]


def init_rate_limits(app: Flask) -> None:
    for key, value in DEFAULT_LIMITS.items():
        app.config[key] = from_environment(app, key) or value
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
            response = error_response(
                429, "too_many_requests", f"rate limit exceeded: {error.description}"
            )
        else:
            response = error_page(TooManyRequests())
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return response
