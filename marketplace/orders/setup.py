"""Putting the orders area into an application: its settings, the dispatcher that runs
background work, its pages and its API."""

from __future__ import annotations

import atexit
import logging
import os

from flask_openapi3 import APIBlueprint, OpenAPI

from marketplace.db import Database
from marketplace.orders.blueprints import api, pages
from marketplace.orders.outbox import EXTENSION_KEY as DISPATCHER_KEY
from marketplace.orders.outbox import Dispatcher

# Each room adds its routes to the area's two blueprints when imported, in this order:
# the order of the sections of the API document.
# isort: off
from marketplace.orders.posting import views as posting_views
from marketplace.orders.posting import api as posting_api
from marketplace.orders.production import views as production_views
from marketplace.orders.production import api as production_api
from marketplace.orders.runs import views as runs_views
from marketplace.orders.runs import api as runs_api
from marketplace.orders.proposals import views as proposals_views
from marketplace.orders.proposals import api as proposals_api
from marketplace.orders.notify import views as notify_views
from marketplace.orders.notify import api as notify_api

# isort: on
from marketplace.orders.settings import (
    DEFAULTS,
    EXTENSION_KEY,
    OTHER_KEYS,
    deadline,
    liveness_settings,
    settings_from,
    webhook_settings,
)
from marketplace.orders.workers.dispatchers import (
    CeleryDispatcher,
    ManualDispatcher,
    ThreadDispatcher,
)

ROOMS = (
    posting_views,
    posting_api,
    runs_views,
    runs_api,
    proposals_views,
    proposals_api,
    production_views,
    production_api,
    notify_views,
    notify_api,
)


def init_orders(app: OpenAPI, database: Database) -> None:
    """Settings, the dispatcher for background work, and the pages of the area (its API
    goes in with the others': `orders_api`)."""
    environment = (
        {k: v for k, v in os.environ.items() if k in DEFAULTS or k in OTHER_KEYS}
        if not app.testing
        else {}
    )
    settings = settings_from(
        {
            **environment,
            "FACTORYWEB_ENV": app.config["FACTORYWEB_SETTINGS"].env,
            **{
                k: v
                for k, v in app.config.items()
                if k in DEFAULTS or k.startswith(("WEBHOOK_", "ORDERS_"))
            },
        }
    )
    app.extensions[EXTENSION_KEY] = settings
    # Test apps start no background work unless a test asks for it.
    runner = app.config.get("ORDERS_RUNNER") or (
        "manual"
        if app.testing
        else "celery"
        if app.config["FACTORYWEB_SETTINGS"].celery_broker_url
        else "thread"
    )
    dispatcher: Dispatcher
    if runner == "celery":
        dispatcher = CeleryDispatcher(
            app.config["FACTORYWEB_SETTINGS"].celery_broker_url, app.config.get("CELERY_QUEUE")
        )
    elif runner == "thread":
        thread_dispatcher = ThreadDispatcher(
            database,
            webhook_settings=webhook_settings(settings),
            deadline=deadline(settings),
            liveness=liveness_settings(settings),
            recovery_interval_s=settings["RUN_RECOVERY_INTERVAL_S"],
        )
        # Test apps keep house only when a test asks for it.
        interval = (
            settings["ORDERS_HOUSEKEEPING_INTERVAL_S"]
            if not app.testing or "ORDERS_HOUSEKEEPING_INTERVAL_S" in app.config
            else 0.0
        )
        if interval > 0:
            _keep_house_once_serving(app, thread_dispatcher, interval)
        if not app.testing:
            atexit.register(_hand_back_quietly, thread_dispatcher)
        dispatcher = thread_dispatcher
    elif runner == "manual":
        dispatcher = ManualDispatcher()
    else:
        raise ValueError(f"ORDERS_RUNNER: unknown runner {runner!r}")
    app.extensions[DISPATCHER_KEY] = dispatcher
    app.register_blueprint(pages)


def orders_api() -> APIBlueprint:
    """The area's REST API, with every room's routes on it."""
    return api


def _keep_house_once_serving(app: OpenAPI, dispatcher: ThreadDispatcher, interval_s: float) -> None:
    """Start the dispatcher's housekeeping with the first request: in the process that
    serves (a forking server's worker, not its parent), and never in a command line
    process (`db upgrade`, `orders expire`) that merely builds the app."""

    def start() -> None:
        dispatcher.start_housekeeping(interval_s)

    app.before_request(start)


def _hand_back_quietly(dispatcher: ThreadDispatcher) -> None:
    """At exit, runs still executing go back to the queue (a failure is only logged:
    recovery finds them anyway once their heartbeat stops)."""
    try:
        dispatcher.hand_back()
    except Exception:
        logging.getLogger(__name__).exception("runs in flight could not be handed back")
