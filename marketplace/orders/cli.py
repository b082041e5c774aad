"""Command line of the orders area: housekeeping without Celery beat."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from marketplace import db
from marketplace.orders import outbox
from marketplace.orders.notify.webhooks import deliver_due
from marketplace.orders.settings import current_settings, liveness_settings, webhook_settings
from marketplace.orders.workers.housekeeping import run_housekeeping

orders_group = AppGroup("orders", help="Orders: expiry of proposals, webhook deliveries.")


@orders_group.command("expire")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def expire(as_json: bool) -> None:
    """Expire proposals past their deadline (re-matching their work) and recover lost runs.

    Run it from cron every minute or two when neither Celery beat nor the web process
    (ORDERS_HOUSEKEEPING_INTERVAL_S, without Celery) does it."""
    result = run_housekeeping(
        db.database(), outbox.current(), **liveness_settings(current_settings())
    )
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"{result['expired']} proposal(s) expired, {result['recovered_runs']} run(s) recovered"
        )


@orders_group.command("deliver-webhooks")
def deliver_webhooks() -> None:
    """Attempt every webhook delivery whose next attempt is due."""
    count = deliver_due(db.database(), **webhook_settings(current_settings()))
    click.echo(f"{count} delivery attempt(s) made")
