"""Orders end to end: posting, matching runs, proposals holding capacity, production
milestones, delivery, disputes, ratings, notifications and webhooks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from marketplace.config import INSTANCE_DIR, ConfigurationError
from marketplace.orders.documents import MAX_DOCUMENT_BYTES

# Config keys of the orders area; each may also come from the environment.
DEFAULTS: dict[str, Any] = {
    "PROPOSAL_DEADLINE_HOURS": 48.0,
    "MATCH_TIME_LIMIT_S": 5.0,
    "WEBHOOK_BACKOFF_BASE_S": 30.0,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_TIMEOUT_S": 5.0,
    "ORDERS_MAX_DOCUMENT_BYTES": MAX_DOCUMENT_BYTES,
    # Without Celery: how often the web process itself expires proposals, recovers lost
    # runs and retries due webhooks (0: never; then run `factoryweb orders expire` and
    # `factoryweb orders deliver-webhooks` from cron).
    "ORDERS_HOUSEKEEPING_INTERVAL_S": 60.0,
}
OTHER_KEYS = ("WEBHOOK_ALLOW_PRIVATE", "ORDERS_UPLOAD_FOLDER")


def settings_from(config: Mapping[str, Any]) -> dict[str, Any]:
    """The orders settings from a config mapping (app.config or os.environ)."""
    result = {}
    for key, default in DEFAULTS.items():
        value = config.get(key, default)
        try:
            result[key] = type(default)(value)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"{key}: not a number: {value!r}") from error
    production = config.get("FACTORYWEB_ENV", "development") == "production"
    allow = config.get("WEBHOOK_ALLOW_PRIVATE", not production)
    result["WEBHOOK_ALLOW_PRIVATE"] = allow if isinstance(allow, bool) else allow == "1"
    result["ORDERS_UPLOAD_FOLDER"] = config.get(
        "ORDERS_UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads")
    )
    return result


def webhook_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "backoff_base_s": settings["WEBHOOK_BACKOFF_BASE_S"],
        "max_attempts": settings["WEBHOOK_MAX_ATTEMPTS"],
        "timeout_s": settings["WEBHOOK_TIMEOUT_S"],
        "allow_private": settings["WEBHOOK_ALLOW_PRIVATE"],
    }


def deadline(settings: Mapping[str, Any]) -> timedelta:
    return timedelta(hours=settings["PROPOSAL_DEADLINE_HOURS"])


def current_settings() -> dict[str, Any]:
    return current_app.extensions["factoryweb.orders.settings"]


def max_document_bytes() -> int:
    return current_settings()["ORDERS_MAX_DOCUMENT_BYTES"]


def upload_folder() -> Path:
    return Path(
        current_app.config.get("ORDERS_UPLOAD_FOLDER") or current_settings()["ORDERS_UPLOAD_FOLDER"]
    )


def init_orders(app: Flask) -> None:
    """Settings, the dispatcher for background work, and the web pages of the area."""
    from marketplace import db
    from marketplace.orders import dispatch
    from marketplace.orders.views import blueprint

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
    app.extensions["factoryweb.orders.settings"] = settings
    # Test apps start no background work unless a test asks for it.
    runner = app.config.get("ORDERS_RUNNER") or (
        "manual"
        if app.testing
        else "celery"
        if app.config["FACTORYWEB_SETTINGS"].celery_broker_url
        else "thread"
    )
    dispatcher: dispatch.Dispatcher
    if runner == "celery":
        dispatcher = dispatch.CeleryDispatcher(
            app.config["FACTORYWEB_SETTINGS"].celery_broker_url, app.config.get("CELERY_QUEUE")
        )
    elif runner == "thread":
        dispatcher = dispatch.ThreadDispatcher(
            app.extensions[db.EXTENSION_KEY],
            webhook_settings=webhook_settings(settings),
            deadline=deadline(settings),
        )
        # Test apps keep house only when a test asks for it.
        interval = (
            settings["ORDERS_HOUSEKEEPING_INTERVAL_S"]
            if not app.testing or "ORDERS_HOUSEKEEPING_INTERVAL_S" in app.config
            else 0.0
        )
        if interval > 0:
            _keep_house_once_serving(app, dispatcher, interval)
    elif runner == "manual":
        dispatcher = dispatch.ManualDispatcher()
    else:
        raise ValueError(f"ORDERS_RUNNER: unknown runner {runner!r}")
    app.extensions[dispatch.EXTENSION_KEY] = dispatcher
    app.register_blueprint(blueprint)


def _keep_house_once_serving(app: Flask, dispatcher: Any, interval_s: float) -> None:
    """Start the dispatcher's housekeeping with the first request: in the process that
    serves (a forking server's worker, not its parent), and never in a command line
    process (`db upgrade`, `orders expire`) that merely builds the app."""

    def start() -> None:
        dispatcher.start_housekeeping(interval_s)

    app.before_request(start)
