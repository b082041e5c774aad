"""Who a request speaks for, before any account is looked up: an API call with a bearer
token, or one carrying the session cookie; and the CSRF check that follows from it."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFProtect


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def bearer_token() -> str | None:
    """The bearer token of an API request, '' for a malformed header, None for none."""
    if not is_api_request():
        return None
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def carries_session_cookie() -> bool:
    return current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def init_csrf(app: Flask, csrf: CSRFProtect) -> None:
    """Flask-WTF checks every write of the web pages, and of the API when the request
    carries the session cookie: the one credential a browser sends by itself, so the one a
    forged cross-site request could use. API requests with a bearer token are
    authenticated by the token alone (the cookie is not looked at); API requests with no
    credentials at all are nobody's, and answer 401 (`check_api_access`)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @app.before_request
    def check_csrf() -> None:
        if not current_app.config.get("WTF_CSRF_ENABLED", True):
            return
        if bearer_token() is not None:
            return
        if is_api_request() and not carries_session_cookie():
            return
        csrf.protect(apply_exemptions=True)
