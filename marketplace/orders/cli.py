"""Command line of the orders area: housekeeping and the end-to-end simulation."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

orders_group = AppGroup("orders", help="Orders: expiry of proposals, webhook deliveries.")


def _database():  # type: ignore[no-untyped-def]
    from marketplace import db

    return db.database()


def _dispatcher():  # type: ignore[no-untyped-def]
    from marketplace.orders import dispatch

    return dispatch.current()


@orders_group.command("expire")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def expire(as_json: bool) -> None:
    """Expire proposals past their deadline (re-matching their work) and recover lost runs.

    Run it from cron every minute or two when neither Celery beat nor the web process
    (ORDERS_HOUSEKEEPING_INTERVAL_S, without Celery) does it."""
    from marketplace.orders.housekeeping import run_housekeeping

    result = run_housekeeping(_database(), _dispatcher())
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"{result['expired']} proposal(s) expired, {result['recovered_runs']} run(s) recovered"
        )


@orders_group.command("deliver-webhooks")
def deliver_webhooks() -> None:
    """Attempt every webhook delivery whose next attempt is due."""
    from marketplace.orders import current_settings, webhook_settings
    from marketplace.orders.webhooks import deliver_due

    count = deliver_due(_database(), **webhook_settings(current_settings()))
    click.echo(f"{count} delivery attempt(s) made")


@click.command("simulate")
@click.option("--factories", default=200, show_default=True, type=click.IntRange(1, 20000))
@click.option("--orders", default=1000, show_default=True, type=click.IntRange(1, 100000))
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(3, 52))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Factory workers answering proposals at once (and run threads without Celery).",
)
@click.option(
    "--batch",
    default=100,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Orders per matching run.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 60),
    help="Seconds per matching run.",
)
@click.option("--accept-rate", default=0.85, show_default=True, type=click.FloatRange(0, 1))
@click.option(
    "--rounds",
    default=3,
    show_default=True,
    type=click.IntRange(1, 10),
    help="Matching rounds for work left open.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
def simulate(
    factories: int,
    orders: int,
    weeks: int,
    seed: int,
    concurrency: int,
    batch: int,
    time_limit_s: float,
    accept_rate: float,
    rounds: int,
    as_json: bool,
) -> None:
    """Seed a cluster, post orders, match them, let factories accept or decline at random,
    produce and deliver; print a summary. Uses the configured database (and Celery when
    CELERY_BROKER_URL is set)."""
    from marketplace.orders import dispatch, upload_folder
    from marketplace.orders.simulate import SimulationError, SimulationSpec
    from marketplace.orders.simulate import simulate as run_simulation

    spec = SimulationSpec(
        factories=factories,
        orders=orders,
        weeks=weeks,
        seed=seed,
        concurrency=concurrency,
        accept_rate=accept_rate,
        batch=batch,
        time_limit_s=time_limit_s,
        rounds=rounds,
        upload_folder=Path(upload_folder()),
    )
    current = _dispatcher()
    dispatcher = current if isinstance(current, dispatch.CeleryDispatcher) else None
    try:
        summary = run_simulation(_database(), spec, dispatcher)
    except SimulationError as error:
        raise click.BadParameter(error.message, param_hint=f"--{error.field}") from error
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{summary['orders']} orders ({summary['lines']} lines) over {summary['factories']} "
        f"factories in {summary['wall_s']} s ({summary['orders_per_s']} orders/s, "
        f"runs via {summary['mode']})"
    )
    click.echo(
        f"fill rate {summary['fill_rate']:.1%}, {summary['declined']} declined, "
        f"{summary['rematched']} re-matches, {summary['delivered']} delivered"
    )
    click.echo(
        f"overbooked buckets: {summary['overbooked_buckets']}, "
        f"booking mismatches: {summary['booking_mismatches']}"
    )


COMMANDS = (orders_group, simulate)
