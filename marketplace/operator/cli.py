"""Command line of the operator's area: `factoryweb whatif` and `factoryweb network
report`. Bad input exits with status 2 and names the field."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext

from factories.errors import InputError
from factories.models import utcnow
from marketplace import db
from marketplace.operator.network.reports import compute_report
from marketplace.operator.network.service import RECOVERY_TIME_LIMIT_S
from marketplace.operator.whatif.apply import apply_outage
from marketplace.operator.whatif.service import DEFAULT_TIME_LIMIT_S, what_if
from marketplace.operator.whatif.target import outage_of

network_group = AppGroup("network", help="The supply network: resilience and risk.")


def _refuse(error: InputError) -> None:
    for field, message in error.problems:
        click.echo(f"error: {field}: {message}", err=True)
    raise SystemExit(2)


@click.command("whatif")
@click.option("--factory", help="Factory id or URN to take offline.")
@click.option("--region", help="Region whose factories go offline.")
@click.option("--from-week", help="First week offline, e.g. 2026-W49 (default: this week).")
@click.option("--to-week", help="Last week offline (default: 12 weeks from this one).")
@click.option("--apply", "apply_it", is_flag=True, help="Close the capacity and re-match.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.5, max=600),
    default=DEFAULT_TIME_LIMIT_S,
    show_default=True,
    help="Engine seconds for the re-plan.",
)
@click.option("--workers", type=click.IntRange(min=1, max=64), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def whatif_command(
    factory: str | None,
    region: str | None,
    from_week: str | None,
    to_week: str | None,
    apply_it: bool,
    time_limit: float,
    workers: int | None,
    as_json: bool,
) -> None:
    """Re-plan the work of a factory or region taken offline for some weeks; nothing
    changes unless --apply."""
    now = utcnow()
    today = now.date()
    with db.database().session() as session:
        try:
            outage = outage_of(
                session, today, factory=factory, region=region, from_week=from_week,
                to_week=to_week,
            )  # fmt: skip
        except InputError as error:
            _refuse(error)
            return
        result = what_if(session, outage, today, time_limit_s=time_limit, workers=workers)
        answer = result.as_json()
        if apply_it:
            session.rollback()
            applied = apply_outage(session, outage, today, now)
            session.commit()
            answer["applied"] = applied.as_json()
        else:
            session.rollback()
    if as_json:
        click.echo(json.dumps(answer))
        return
    click.echo(
        f"{outage.label} offline {answer['target']['from_week']}..{answer['target']['to_week']}: "
        f"{len(answer['affected_orders'])} affected orders"
    )
    click.echo(
        f"fill before {_pct(answer['fill_before'])}, right after the loss "
        f"{_pct(answer['fill_lost'])}, after re-matching {_pct(answer['fill_after'])}"
    )
    for currency, change in answer["cost_change"].items():
        click.echo(f"cost change {change:+d} {currency} (minor units)")
    for order in answer["unsaved_orders"]:
        click.echo(f"cannot be saved: order {order['order']} ({order['unsaved_hours']:g} h)")
    for pickup in answer["picked_up_by"]:
        click.echo(
            f"picked up by factory {pickup['factory']} {pickup['name']}: {pickup['hours']:g} h"
        )
    for order in answer["in_production"]:
        click.echo(f"in production, to handle: order {order['order']} ({order['lost_hours']:g} h)")
    if "applied" in answer:
        click.echo(f"applied: {json.dumps(answer['applied'])}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@network_group.command("report")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.5, max=600),
    default=RECOVERY_TIME_LIMIT_S,
    show_default=True,
    help="Engine seconds for the recovery re-plan.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def network_report(time_limit: float, as_json: bool) -> None:
    """Compute the four resilience properties and the per-process risk table (and keep
    the report for the network page)."""
    now = utcnow()
    with db.database().session() as session:
        row = compute_report(session, now.date(), now, time_limit_s=time_limit)
        answer = {k: v for k, v in row.report.items() if k != "drawing"}
    if as_json:
        click.echo(json.dumps(answer))
        return
    for key in ("completeness", "smoothness", "control", "recovery"):
        click.echo(f"{key:13} {answer[key]:.2f}")
    click.echo(f"{'process':24} {'demand h':>10} {'qualified':>9} {'free h':>10} {'HHI':>5} "
               f"{'single':>6} critical")  # fmt: skip
    for r in answer["processes"]:
        hhi = "-" if r["hhi"] is None else f"{r['hhi']:.2f}"
        critical = ", ".join(str(c["factory"]) for c in r["critical_factories"]) or "-"
        click.echo(
            f"{r['process']:24} {r['demanded_hours']:10.1f} {r['qualified_factories']:9d} "
            f"{r['free_hours']:10.1f} {hhi:>5} {len(r['single_sourced_orders']):6d} {critical}"
        )


COMMANDS = (whatif_command, network_group)
