"""How the dashboard's figures are shown: charts in the reader's language, and each
table as CSV (`TABLES`: file name -> header and rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlmodel import Session

from factories.capacity.weeks import week_label
from marketplace.operator import charts
from marketplace.operator.dashboard.machines import machine_rows
from marketplace.operator.dashboard.service import (
    CapacityRow,
    Dashboard,
    FactoryRow,
    FillRow,
    capacity_rows,
    expiring_certifications,
    fill_rows,
    pending_factories,
    run_rows,
    stale_factories,
)
from marketplace.web.labels import current_locale, process_label


def _grid(rows: list[CapacityRow]) -> tuple[list[str], list[str], list[list[float | None]]]:
    weeks = sorted({r.week for r in rows})
    keys = sorted({r.key for r in rows})
    cell = {(r.key, r.week): r.utilization for r in rows}
    return (
        [week_label(w) for w in weeks],
        keys,
        [[cell.get((k, w)) for w in weeks] for k in keys],
    )


def utilization_heatmap(rows: list[CapacityRow], by: str) -> dict[str, Any]:
    x, keys, z = _grid(rows)
    locale = current_locale()
    y = [process_label(k, locale) for k in keys] if by == "process" else keys
    title = (
        _("Utilization by process and week (booked ÷ maximum hours)")
        if by == "process"
        else _("Utilization by region and week (booked ÷ maximum hours)")
    )
    hover = "%{y} · %{x}: %{z:.0%}"
    return charts.heatmap(x, y, z, title, hover)


def fill_chart(rows: list[FillRow]) -> dict[str, Any]:
    return charts.bars(
        [week_label(r.week) for r in rows],
        [r.fill for r in rows],
        _("Fill rate of the orders posted each week (accepted ÷ ordered hours)"),
    )


def figures(board: Dashboard) -> dict[str, dict[str, Any]]:
    return {
        "by_process": utilization_heatmap(board.by_process, "process"),
        "by_region": utilization_heatmap(board.by_region, "region"),
        "fill": fill_chart(board.fill),
    }


@dataclass(frozen=True)
class Table:
    """A CSV file: its header, and its rows from the one part of the dashboard it needs."""

    header: Sequence[str]
    rows: Callable[[Session, date, datetime], Iterable[Sequence[object]]]


def _capacity(rows: list[CapacityRow]) -> Iterable[Sequence[object]]:
    for r in rows:
        yield (r.key, week_label(r.week), r.maximum, r.booked, r.held, r.free, r.utilization)


def _factories(rows: list[FactoryRow]) -> Iterable[Sequence[object]]:
    return ((r.id, r.name, r.region, r.since.isoformat() if r.since else None) for r in rows)


CAPACITY_HEADER = (
    "week",
    "maximum_hours",
    "booked_hours",
    "held_hours",
    "free_hours",
    "utilization",
)

TABLES: dict[str, Table] = {
    "utilization": Table(
        ("process", *CAPACITY_HEADER), lambda s, today, _: _capacity(capacity_rows(s, today))
    ),
    "utilization-by-region": Table(
        ("region", *CAPACITY_HEADER),
        lambda s, today, _: _capacity(capacity_rows(s, today, "region")),
    ),
    "fill": Table(
        ("week", "orders", "ordered_hours", "accepted_hours", "fill"),
        lambda s, today, _: (
            (week_label(r.week), r.orders, r.ordered, r.accepted, r.fill)
            for r in fill_rows(s, today)
        ),
    ),
    "runs": Table(
        (
            "run",
            "kind",
            "state",
            "finished_at",
            "duration_s",
            "orders",
            "currency",
            "fill",
            "cost",
            "bound",
            "cost_over_bound",
        ),
        lambda s, *_: (
            (
                r.id,
                r.kind,
                r.state,
                r.finished_at.isoformat(),
                r.duration_s,
                r.orders,
                r.currency,
                r.fill,
                r.cost,
                r.bound,
                r.cost_over_bound,
            )
            for r in run_rows(s)
        ),
    ),
    "stale-factories": Table(
        ("factory", "name", "region", "capacity_updated_at"),
        lambda s, _, now: _factories(stale_factories(s, now)),
    ),
    "pending-factories": Table(
        ("factory", "name", "region", "registered_at"),
        lambda s, *_: _factories(pending_factories(s)),
    ),
    "expiring-certifications": Table(
        ("factory", "name", "certificate_type", "registration_number", "valid_until"),
        lambda s, today, _: (
            (
                r.factory_id,
                r.factory_name,
                r.certificate_type,
                r.registration_number,
                r.valid_until.isoformat(),
            )
            for r in expiring_certifications(s, today)
        ),
    ),
    "machines": Table(
        (
            "process",
            "machines",
            "executing",
            "not_executing",
            "down",
            "silent",
            "nominal_hours",
            "utilization",
        ),
        lambda s, _, now: (
            (
                r.process,
                r.machines,
                r.executing,
                r.not_executing,
                r.down,
                r.silent,
                f"{r.nominal_hours:.2f}",
                "" if r.utilization is None else f"{r.utilization:.4f}",
            )
            for r in machine_rows(s, now)
        ),
    ),
}
