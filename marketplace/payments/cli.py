"""Command line of the payments area: reconciliation with the gateway, and the sweep of
unpaid orders, dispute windows and due gateway calls for deployments without Celery beat."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask.cli import AppGroup

from factories.models import utcnow
from marketplace import db
from marketplace.orders import outbox
from marketplace.payments.reconcile import reconcile
from marketplace.payments.settings import current
from marketplace.payments.upkeep import sweep

payments_group = AppGroup("payments", help="Payments: reconciliation with the gateway, upkeep.")


@payments_group.command("reconcile")
@click.option(
    "--since",
    "since_days",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Compare what moved in the last DAYS days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def reconcile_command(since_days: float, as_json: bool) -> None:
    """Compare our captures, refunds and transfers with the gateway's.

    Exits 0 when they agree, 1 naming each difference (2 on bad input)."""
    payments = current()
    since = utcnow() - timedelta(days=since_days)
    with db.database().session() as session:
        compared, differences = reconcile(session, payments.gateway, since)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "gateway": payments.gateway.name,
                    "since": since.isoformat(),
                    "compared": compared,
                    "differences": [d.as_dict() for d in differences],
                }
            )
        )
    else:
        click.echo(f"{compared} compared with the {payments.gateway.name} gateway", err=False)
        for d in differences:
            click.echo(
                f"{d.kind}: ours {d.ours or '(none)'}, gateway's {d.theirs or '(none)'}: "
                f"{d.problem} (expected {d.expected_minor}, found {d.found_minor})"
            )
        if not differences:
            click.echo("the books agree")
    if differences:
        raise SystemExit(1)


@payments_group.command("sweep")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def sweep_command(as_json: bool) -> None:
    """Release unpaid orders past their deadline, deliver and close orders past their
    dispute window, and make gateway calls that are due. Run it from cron every minute
    when neither Celery beat nor the web process does it."""
    result = sweep(db.database(), outbox.current(), settings=current().settings)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"{result['unpaid_orders']} unpaid order(s) released, "
            f"{result['closed_by_window']} closed by the dispute window, "
            f"{result['gateway_calls']} gateway call(s) due"
        )
