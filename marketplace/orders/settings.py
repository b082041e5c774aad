"""Settings of the orders area: config keys, their defaults, and where they are read.

Each key may come from the application's config or from the environment (web processes
read both; Celery workers and command lines, which have no request, read the
environment through `settings_from`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app

from marketplace.config import INSTANCE_DIR, ConfigurationError

EXTENSION_KEY = "factoryweb.orders.settings"
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

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
    # A matching run whose worker has not written its heartbeat for this long has lost
    # its worker: it is queued again, at most RUN_MAX_ATTEMPTS times in all.
    "RUN_SILENCE_S": 30.0,
    "RUN_MAX_ATTEMPTS": 3,
    # A queued run no worker took this long after its hand-off to the broker is handed
    # over again (the broker may have lost it, or been down at the time).
    "RUN_REDISPATCH_S": 45.0,
    # How often lost and stuck runs are looked for (Celery beat, or the web process).
    "RUN_RECOVERY_INTERVAL_S": 10.0,
    # A run whose problem has at least this many (job, option, period) terms and falls
    # apart into independent groups is solved in parts, one Celery task each (without
    # Celery, in a pool of processes); a group bigger than MATCH_PART_MAX_TERMS is cut
    # into regions. MATCH_FANOUT_SLOTS: how many workers the parts' time limits assume.
    "MATCH_FANOUT_MIN_TERMS": 200_000,
    "MATCH_PART_MAX_TERMS": 400_000,
    "MATCH_FANOUT_SLOTS": 2,
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
    """The keyword arguments of a webhook delivery attempt."""
    return {
        "backoff_base_s": settings["WEBHOOK_BACKOFF_BASE_S"],
        "max_attempts": settings["WEBHOOK_MAX_ATTEMPTS"],
        "timeout_s": settings["WEBHOOK_TIMEOUT_S"],
        "allow_private": settings["WEBHOOK_ALLOW_PRIVATE"],
    }


def liveness_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of run recovery."""
    return {
        "silence": timedelta(seconds=settings["RUN_SILENCE_S"]),
        "max_attempts": settings["RUN_MAX_ATTEMPTS"],
        "redispatch_after": timedelta(seconds=settings["RUN_REDISPATCH_S"]),
    }


def fanout_settings(settings: Mapping[str, Any]) -> dict[str, int]:
    return {
        "min_terms": settings["MATCH_FANOUT_MIN_TERMS"],
        "max_part_terms": settings["MATCH_PART_MAX_TERMS"],
        "slots": settings["MATCH_FANOUT_SLOTS"],
    }


def deadline(settings: Mapping[str, Any]) -> timedelta:
    """How long a factory has to answer a proposal."""
    return timedelta(hours=settings["PROPOSAL_DEADLINE_HOURS"])


def current_settings() -> dict[str, Any]:
    return current_app.extensions[EXTENSION_KEY]


def max_document_bytes() -> int:
    return current_settings()["ORDERS_MAX_DOCUMENT_BYTES"]


def upload_folder() -> Path:
    return Path(
        current_app.config.get("ORDERS_UPLOAD_FOLDER") or current_settings()["ORDERS_UPLOAD_FOLDER"]
    )
