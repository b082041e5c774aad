"""Celery: matching runs, webhook deliveries and the periodic housekeeping of orders.

    celery --app marketplace.tasks worker --concurrency 2      # runs and deliveries
    celery --app marketplace.tasks beat                        # expiry, retries, stale runs

The worker reads the same environment as the web (`DATABASE_URL`, `CELERY_BROKER_URL`)
and `CELERY_QUEUE` (default `factoryweb`) for the queue it serves. Web processes only
send tasks after their transaction committed, so a worker always finds the rows.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

from celery import Celery

from marketplace.config import Settings
from marketplace.db import Database
from marketplace.orders import deadline, settings_from, webhook_settings
from marketplace.orders.dispatch import CeleryDispatcher

QUEUE = os.environ.get("CELERY_QUEUE", "factoryweb")
HOUSEKEEPING_INTERVAL_S = settings_from(os.environ)["ORDERS_HOUSEKEEPING_INTERVAL_S"]

app = Celery("factoryweb")
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL") or "memory://",
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    beat_schedule={
        "expire-proposals": {"task": "orders.housekeeping", "schedule": HOUSEKEEPING_INTERVAL_S},
        "deliver-due-webhooks": {"task": "orders.deliver_due", "schedule": HOUSEKEEPING_INTERVAL_S},
    },
)


def worker_command(queue: str, concurrency: int = 2) -> list[str]:
    """How to start a worker serving `queue` (tests and benchmarks start it this way)."""
    return [
        sys.executable, "-m", "celery", "--app", "marketplace.tasks", "worker",
        "--queues", queue, "--concurrency", str(concurrency), "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def use_broker(url: str) -> None:
    """Point the task producer at `url` (the web app's CELERY_BROKER_URL)."""
    if app.conf.broker_url != url:
        app.conf.broker_url = url


@cache
def database() -> Database:
    """One engine per worker process (created after the fork)."""
    return Database.from_url(Settings.from_environ().database_url)


def orders_settings() -> dict[str, Any]:
    return settings_from(os.environ)


@app.task(name="orders.run_match")
def run_match(run_id: int) -> dict[str, Any] | None:
    from marketplace.orders.runs import execute_run

    run = execute_run(
        database(), run_id, dispatcher=CeleryDispatcher(), deadline=deadline(orders_settings())
    )
    return None if run is None else {"run": run.id, "state": run.state}


@app.task(name="orders.deliver_webhook")
def deliver_webhook(delivery_id: int, due_only: bool = False) -> None:
    from marketplace.orders.webhooks import attempt_delivery

    attempt_delivery(
        database(),
        delivery_id,
        dispatcher=CeleryDispatcher(),
        due_only=due_only,
        **webhook_settings(orders_settings()),
    )


@app.task(name="orders.housekeeping")
def housekeeping() -> dict[str, int]:
    """Expire proposals past their deadline and recover runs whose worker died."""
    from marketplace.orders.housekeeping import run_housekeeping

    return run_housekeeping(database(), CeleryDispatcher())


@app.task(name="orders.deliver_due")
def deliver_due() -> int:
    from marketplace.orders.webhooks import deliver_due as deliver

    return deliver(database(), **webhook_settings(orders_settings()))
