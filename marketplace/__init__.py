"""FactoryWeb: the web application, its API and its command line."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import Info, OpenAPI

from marketplace import db
from marketplace.config import Settings


def security_schemes(session_cookie: str) -> dict[str, dict[str, str]]:
    """How the API authenticates, for the OpenAPI document: a bearer token of a machine
    client, or the session cookie of a browser."""
    return {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"},
        "sessionCookie": {"type": "apiKey", "in": "cookie", "name": session_cookie},
    }


def create_app(
    settings: Settings | None = None, database: db.Database | None = None, **config: Any
) -> OpenAPI:
    """Build the application; tests pass their own settings, database and config keys."""
    settings = settings or Settings.from_environ()
    app = OpenAPI(
        __name__,
        info=Info(
            title="FactoryWeb API",
            version="1",
            description="Manufacturing capacity marketplace: factories, capacity, orders.",
        ),
        security_schemes=security_schemes("session"),
        doc_ui=False,
        validation_error_status=422,
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        FACTORYWEB_SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    db.init_app(app, database or db.Database.from_url(settings.database_url))

    from marketplace.api import init_api
    from marketplace.cli import register_commands
    from marketplace.web import init_web

    init_web(app)
    init_api(app)
    # The cookie the application really sets: __Host-session in production.
    app.security_schemes = security_schemes(app.config["SESSION_COOKIE_NAME"])
    register_commands(app.cli)
    return app
