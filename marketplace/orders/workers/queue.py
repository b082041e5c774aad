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
SOLVE_PART = "orders.solve_part"  # one part of a run solved in parts
DELIVER_WEBHOOK = "orders.deliver_webhook"
HOUSEKEEPING = "orders.housekeeping"
RECOVER_RUNS = "orders.recover_runs"
DELIVER_DUE = "orders.deliver_due"
RECOVERY_INTERVAL_S = settings_from(os.environ)["RUN_RECOVERY_INTERVAL_S"]
# The longest a run takes (its time limit is at most a minute; building the problem and
# applying the plan come on top), with room: a message is redelivered only when no
# worker acknowledged it in this time.
VISIBILITY_TIMEOUT_S = 600
# A message the broker does not take at once is tried once more; then the row it stands
# for stays queued and housekeeping hands it over later. A request is not held up.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5}

celery_app = Celery("factoryweb")
celery_app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL") or "memory://",
    # Workers and beat wait for a broker that went away, however long it takes.
    broker_connection_retry_on_startup=True,
    broker_connection_retry=True,
    broker_connection_max_retries=None,
    broker_connection_timeout=2,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    task_default_queue=QUEUE,
    task_ignore_result=True,
    # A message is acknowledged once its task ended, and given back when the worker
    # process running it died: another worker takes it (a run is idempotent).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    beat_schedule={
        "expire-proposals": {"task": HOUSEKEEPING, "schedule": HOUSEKEEPING_INTERVAL_S},
        "recover-runs": {"task": RECOVER_RUNS, "schedule": RECOVERY_INTERVAL_S},
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
