"""Command line of the development tools: `seed-demo` and `simulate`."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from marketplace import db
from marketplace.orders import outbox
from marketplace.orders.settings import upload_folder
from marketplace.orders.workers.dispatchers import CeleryDispatcher
from marketplace.payments import settings as payments
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import has_factories, seed_marketplace
from marketplace.tools.simulate.run import SimulationError, SimulationSpec
from marketplace.tools.simulate.run import simulate as run_simulation


@click.command("seed-demo")
@click.option("--factories", "factory_count", default=60, show_default=True, type=click.IntRange(1))
@click.option(
    "--orders",
    "order_count",
    default=150,
    show_default=True,
    type=click.IntRange(0),
    help="Orders through every state; one in twenty more waits for its payment.",
)
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 52))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing when the marketplace already has factories."
)
@with_appcontext
def seed_demo(
    factory_count: int, order_count: int, weeks: int, seed: int, as_json: bool, if_empty: bool
) -> None:
    """Fill the marketplace with a realistic demo cluster, the same for the same seed."""
    with db.database().session() as session:
        if if_empty and has_factories(session):
            click.echo("demo data already present; nothing to do")
            _echo_logins(demo_logins())
            return
        summary = seed_marketplace(
            session, DemoSpec(factories=factory_count, orders=order_count, weeks=weeks, seed=seed)
        )
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
        return
    click.echo(
        f"seeded {summary.factories} factories in {summary.regions} regions, "
        f"{summary.capacity_buckets} capacity buckets over {weeks} weeks, "
        f"{summary.orders} orders in {summary.seconds:.1f} s"
    )
    _echo_logins(summary.logins)


def _echo_logins(logins: dict[str, tuple[str, str]]) -> None:
    click.echo("demo logins (email / password):")
    for role, (email, password) in logins.items():
        click.echo(f"  {role:<16} {email} / {password}")


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
    pay, cancel some, produce, deliver or dispute, pay the factories out; print a summary.
    Uses the configured database, Celery when CELERY_BROKER_URL is set, and Stripe when
    STRIPE_API_KEY is set (the simulated payment gateway otherwise)."""
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
        upload_folder=upload_folder(),
    )
    current = outbox.current()
    dispatcher = current if isinstance(current, CeleryDispatcher) else None
    try:
        summary = run_simulation(db.database(), spec, payments.current(), dispatcher)
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
    for currency, figures in summary["money"].items():
        click.echo(
            f"{currency} (minor units, {summary['gateway']} gateway): "
            + ", ".join(f"{name} {value}" for name, value in figures.items())
        )
    click.echo(f"money mismatches: {summary['money_mismatches']}")


COMMANDS = (seed_demo, simulate)
