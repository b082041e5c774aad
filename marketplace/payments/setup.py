"""Putting the payments area into an application (and into workers): its settings and
gateway, the dispatcher's job for gateway calls and its sweep, the receivers of the
orders area's signals, its pages and API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from flask import current_app, has_app_context
from flask_openapi3 import APIBlueprint, OpenAPI
from sqlmodel import Session

from marketplace.config import Settings
from marketplace.db import Database
from marketplace.orders import outbox, signals
from marketplace.orders.models import Order
from marketplace.payments import charges, operations, replanned, settlement
from marketplace.payments.blueprints import api, pages
from marketplace.payments.settings import (
    DEFAULTS,
    EXTENSION_KEY,
    Payments,
    PaymentSettings,
    current,
    gateway_for,
)
from marketplace.payments.upkeep import SESSION_SETTINGS, job, sweep

# isort: off
# Each module adds its routes to the area's blueprints when imported.
from marketplace.payments import views as payment_views  # noqa: F401
from marketplace.payments import api as payment_api  # noqa: F401

# isort: on

SIMULATED_ONBOARDING = "/payments/simulated/onboarding/{account_id}"
STRIPE_SOURCES = {
    "script-src": ["https://js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}


def settings_from(config: Mapping[str, Any]) -> PaymentSettings:
    return PaymentSettings.from_mapping(config)


def init_payments(app: OpenAPI, database: Database) -> None:
    environment = {} if app.testing else {k: v for k, v in os.environ.items() if k in DEFAULTS}
    settings = settings_from(
        {**environment, **{k: v for k, v in app.config.items() if k in DEFAULTS}}
    )
    gateway = gateway_for(app.config["FACTORYWEB_SETTINGS"], database, SIMULATED_ONBOARDING)
    app.extensions[EXTENSION_KEY] = Payments(settings, gateway)
    if gateway.name == "stripe":
        # Stripe.js and the frames of its card field, and nothing more.
        extra = app.config.setdefault("CSP_EXTRA_SOURCES", {})
        for directive, sources in STRIPE_SOURCES.items():
            extra.setdefault(directive, []).extend(sources)
    dispatcher = app.extensions[outbox.EXTENSION_KEY]
    dispatcher.register(operations.JOB, job(gateway, settings))
    dispatcher.add_sweep(partial(sweep, settings=settings))
    app.register_blueprint(pages)


def payments_api() -> APIBlueprint:
    return api


def settings_of(session: Session) -> PaymentSettings:
    """The settings of this unit of work: its own, the application's, or the defaults."""
    own: PaymentSettings | None = session.info.get(SESSION_SETTINGS)
    if own is not None:
        return own
    if has_app_context() and EXTENSION_KEY in current_app.extensions:
        return current().settings
    return settings_from(os.environ)


def _delivered(order: Order, *, session: Session, now: datetime) -> None:
    settlement.on_order_delivered(order, session=session, now=now, settings=settings_of(session))


# The orders area's signals are the process's: connected once, whatever the number of apps.
signals.order_cancelled.connect(charges.on_order_cancelled, weak=False)
signals.order_delivered.connect(_delivered, weak=False)
signals.order_fully_accepted.connect(replanned.on_order_fully_accepted, weak=False)


def worker_payments(settings: Settings, database: Database) -> Payments:
    """What a Celery worker uses: the settings and gateway of its environment."""
    return Payments(
        settings_from(os.environ), gateway_for(settings, database, SIMULATED_ONBOARDING)
    )
