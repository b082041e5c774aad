"""Celery tasks: matching runs, webhook deliveries, payment gateway calls and the periodic
housekeeping of orders and payments.

    celery --app marketplace.tasks worker --concurrency 2      # runs and deliveries
    celery --app marketplace.tasks beat                        # expiry, retries, lost runs
    celery --app marketplace.tasks worker --telemetry          # ... and machine telemetry

The worker reads the same environment as the web (`DATABASE_URL`, `CELERY_BROKER_URL`)
and `CELERY_QUEUE` (default `factoryweb`) for the queue it serves. Web processes only
send tasks after their transaction committed (the outbox), so a worker always finds the
rows.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from factories.models import utcnow
from marketplace.config import Settings
from marketplace.db import Database
from marketplace.operator.network.reports import sweep as network_report_sweep
from marketplace.orders.notify.webhooks import attempt_delivery
from marketplace.orders.notify.webhooks import deliver_due as deliver_due_webhooks
from marketplace.orders.settings import (
    deadline,
    liveness_settings,
    settings_from,
    webhook_settings,
)
from marketplace.orders.workers.dispatchers import CeleryDispatcher
from marketplace.orders.workers.housekeeping import run_housekeeping
from marketplace.orders.workers.matching import execute_run
from marketplace.orders.workers.queue import (
    DELIVER_DUE,
    DELIVER_WEBHOOK,
    HOUSEKEEPING,
    RECOVER_RUNS,
    RUN_MATCH,
    celery_app,
)
from marketplace.orders.workers.recovery import recover_runs
from marketplace.payments import operations
from marketplace.payments.settings import Payments
from marketplace.payments.setup import worker_payments
from marketplace.payments.upkeep import sweep as payments_sweep
from marketplace.telemetry.celery_worker import TELEMETRY_OPTION, TelemetryStep

# `celery --app marketplace.tasks` finds the application under this name.
app = celery_app
app.user_options["worker"].add(TELEMETRY_OPTION)
app.steps["worker"].add(TelemetryStep)
PAYMENTS_SWEEP = "payments.sweep"
NETWORK_REPORT = "operator.network-report"
app.conf.beat_schedule["payments-sweep"] = {
    "task": PAYMENTS_SWEEP,
    "schedule": app.conf.beat_schedule["expire-proposals"]["schedule"],
}


app.conf.beat_schedule[NETWORK_REPORT] = {
    "task": NETWORK_REPORT,
    "schedule": app.conf.beat_schedule["expire-proposals"]["schedule"],
}


@cache
def database() -> Database:
    """One engine per worker process (created after the fork)."""
    return Database.from_url(Settings.from_environ().database_url)


@cache
def payments() -> Payments:
    """The payment settings and gateway of this worker's environment."""
    return worker_payments(Settings.from_environ(), database())


def orders_settings() -> dict[str, Any]:
    return settings_from(os.environ)


@app.task(name=RUN_MATCH)
def run_match(run_id: int) -> dict[str, Any] | None:
    run = execute_run(
        database(), run_id, dispatcher=CeleryDispatcher(), deadline=deadline(orders_settings())
    )
    return None if run is None else {"run": run.id, "state": run.state}


@app.task(name=DELIVER_WEBHOOK)
def deliver_webhook(delivery_id: int, due_only: bool = False) -> None:
    attempt_delivery(
        database(),
        delivery_id,
        dispatcher=CeleryDispatcher(),
        due_only=due_only,
        **webhook_settings(orders_settings()),
    )


@app.task(name=HOUSEKEEPING)
def housekeeping() -> dict[str, int]:
    """Expire proposals past their deadline and recover runs whose worker died."""
    return run_housekeeping(database(), CeleryDispatcher(), **liveness_settings(orders_settings()))


@app.task(name=RECOVER_RUNS)
def recover() -> dict[str, int]:
    """Queue again the runs whose worker stopped; hand over again those the broker lost."""
    return recover_runs(
        database(), CeleryDispatcher(), utcnow(), **liveness_settings(orders_settings())
    )


@app.task(name=DELIVER_DUE)
def deliver_due() -> int:
    return deliver_due_webhooks(database(), **webhook_settings(orders_settings()))


@app.task(name=operations.JOB)
def gateway_call(operation_id: int) -> str:
    """One call to the payment gateway from the outbox (made once; retried with backoff)."""
    return operations.perform(
        database(),
        operation_id,
        gateway=payments().gateway,
        settings=payments().settings,
        dispatcher=CeleryDispatcher(),
    )


@app.task(name=PAYMENTS_SWEEP)
def sweep_payments() -> dict[str, int]:
    """Unpaid orders past their deadline, dispute windows over, gateway calls due."""
    return payments_sweep(database(), CeleryDispatcher(), settings=payments().settings)


@app.task(name=NETWORK_REPORT)
def network_report() -> dict[str, object]:
    """A new network report when the latest is older than its maximum age."""
    return network_report_sweep(database())
