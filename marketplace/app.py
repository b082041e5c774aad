"""The application: every area put together (`create_app`)."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import Info, OpenAPI, SecurityScheme, Tag

from marketplace import db
from marketplace.accounts.api import api as accounts_api
from marketplace.accounts.setup import init_accounts
from marketplace.api import browse, system
from marketplace.api.errors import ErrorBody, init_errors, validation_error_response
from marketplace.commands import register_commands
from marketplace.config import Settings
from marketplace.credit.setup import credit_api, init_credit
from marketplace.home.views import blueprint as home_blueprint
from marketplace.operator.setup import init_operator
from marketplace.orders.setup import init_orders, orders_api
from marketplace.payments.setup import init_payments, payments_api
from marketplace.security.answers import document_answers
from marketplace.supply.setup import init_supply, supply_api
from marketplace.telemetry.setup import init_telemetry, telemetry_api
from marketplace.web import csrf, init_web
from marketplace.web import places as place_picker

SYSTEM = Tag(name="system", description="Health of the service")


def security_schemes(session_cookie: str) -> dict[str, SecurityScheme | dict[str, Any]]:
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
    database = database or db.Database.from_url(settings.database_url)
    db.init_app(app, database)

    init_web(app)
    app.register_blueprint(home_blueprint)
    init_supply(app)
    init_orders(app, database)
    init_payments(app, database)
    init_credit(app)
    init_telemetry(app)
    init_operator(app)
    # After the other pages: its protections (rate limits) wrap views registered so far.
    init_accounts(app, csrf)

    app.validation_error_callback = validation_error_response
    app.validation_error_model = ErrorBody
    init_errors(app)
    app.get("/healthz", tags=[SYSTEM], responses={200: system.Health, 503: system.Health})(
        system.healthz
    )
    app.register_blueprint(system.document)
    app.register_blueprint(browse.pages)
    app.register_blueprint(place_picker.blueprint)
    for blueprint in (system.v1, accounts_api, orders_api(), payments_api(), credit_api()):
        app.register_api(blueprint)
    app.register_api(supply_api())
    app.register_api(telemetry_api())
    # After every API: the answers each operation can give besides its own.
    document_answers(app)
    # The cookie the application really sets: __Host-session in production.
    app.security_schemes = security_schemes(app.config["SESSION_COOKIE_NAME"])
    register_commands(app.cli)
    return app
