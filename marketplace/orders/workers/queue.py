"""The Celery application the marketplace sends background work to, and the names of
its tasks. The tasks themselves are defined in `marketplace.tasks`, which workers load
(`celery --app marketplace.tasks worker`); a sender needs only this module."""

from __future__ import annotations

import os
import sys

from celery import Celery

from marketplace.orders.settings import settings_from

QUEUE = os.environ.get("CELERY_QUEUE", "factoryweb")
HOUSEKEEPING_INTERVAL_S = settings_from(os.environ)["ORDERS_HOUSEKEEPING_INTERVAL_S"]

RUN_MATCH = "orders.run_match"
DELIVER_WEBHOOK = "orders.deliver_webhook"
HOUSEKEEPING = "orders.housekeeping"
DELIVER_DUE = "orders.deliver_due"

celery_app = Celery("factoryweb")
celery_app.conf.update(
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
        "expire-proposals": {"task": HOUSEKEEPING, "schedule": HOUSEKEEPING_INTERVAL_S},
        "deliver-due-webhooks": {"task": DELIVER_DUE, "schedule": HOUSEKEEPING_INTERVAL_S},
    },
)


def use_broker(url: str) -> None:
    """Point the task producer at `url` (the web app's CELERY_BROKER_URL)."""
    if celery_app.conf.broker_url != url:
        # An item, not the attribute: the attribute is a read-only property that
        # prefers the environment's CELERY_BROKER_URL.
        celery_app.conf["broker_url"] = url


def worker_command(queue: str, concurrency: int = 2) -> list[str]:
    """How to start a worker serving `queue` (tests and benchmarks start it this way)."""
    return [
        sys.executable, "-m", "celery", "--app", "marketplace.tasks", "worker",
        "--queues", queue, "--concurrency", str(concurrency), "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
