"""Putting the accounts area into an application: its settings, pages, OAuth2 endpoints,
mail, company sign-in, and the protections every request meets."""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from marketplace.accounts.access import check_api_access
from marketplace.accounts.mail import init_mail
from marketplace.accounts.oauth import blueprint as oauth_blueprint
from marketplace.accounts.oauth import init_oauth, refuse_client
from marketplace.accounts.oidc import init_oidc
from marketplace.accounts.views import blueprint as accounts_blueprint
from marketplace.security import init_security

# Settings read from the environment (tests pass them as config keys instead).
ENVIRONMENT_KEYS = (
    "PUBLIC_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_STARTTLS",
    "MAIL_SENDER",
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "RATELIMIT_STORAGE_URI",
    "REDIS_URL",
    "TRUSTED_PROXIES",
)
SESSION_COOKIE_PRODUCTION = "__Host-session"


def init_accounts(app: Flask, csrf: CSRFProtect) -> None:
    """Register the account pages, the OAuth2 endpoints and the protections around them.
    Called after the other web blueprints are registered: the rate limits wrap views
    registered so far."""
    if not app.testing:
        for key in ENVIRONMENT_KEYS:
            if os.environ.get(key):
                app.config.setdefault(key, os.environ[key])
    if app.config["FACTORYWEB_SETTINGS"].production:
        # __Host-: only over HTTPS, only for this exact host, for the whole site.
        app.config.update(
            SESSION_COOKIE_NAME=SESSION_COOKIE_PRODUCTION,
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_DOMAIN=None,
            SESSION_COOKIE_PATH="/",
        )
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_LIFETIME", timedelta(days=14))
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config["SESSION_LIFETIME"]

    app.register_blueprint(accounts_blueprint)
    app.register_blueprint(oauth_blueprint)
    csrf.exempt(oauth_blueprint)
    init_mail(app)
    init_oauth(app)
    init_oidc(app)
    init_security(app, csrf, check_api_access=check_api_access, refuse_credentials=refuse_client)
