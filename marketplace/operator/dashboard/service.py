"""The figures of the operator's dashboard, from the database (docs/operator.md).

Utilization is booked ÷ maximum hours of verified factories' capacity buckets, by process
and ISO week and by region and week, for the calendar's weeks from this one
(`factories.capacity.calendar.CALENDAR_WEEKS`); free hours follow the one rule of
`factories.capacity.hours`. Fill is accepted ÷ ordered hours of the orders posted each
week. Staleness is the calendar's own rule (`is_stale`'s STALE_AFTER).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.calendar import CALENDAR_WEEKS, STALE_AFTER
from factories.capacity.hours import NO_HOURS, free_hours
from factories.capacity.weeks import monday_of, weeks_from
from factories.models import CapacityBucket, Certification, Factory, FactoryStatus, id_of
from marketplace.operator.dashboard.machines import MachineRow, machine_rows
from marketplace.orders.models import (
    MatchRun,
    MatchRunOrder,
    MatchRunState,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalState,
)

EXPIRY_WINDOW = timedelta(days=30)
FILL_WEEKS = 12
RUNS_SHOWN = 50
# Orders that never asked for capacity do not count in the fill rate.
NOT_DEMAND = (OrderState.DRAFT, OrderState.CANCELLED)


@dataclass(frozen=True)
class CapacityRow:
    """Hours of one group (a process or a region) in one ISO week."""

    key: str
    week: date
    maximum: Decimal
    booked: Decimal
    held: Decimal

    @property
    def free(self) -> Decimal:
        return free_hours(self.maximum, self.booked)

    @property
    def utilization(self) -> float | None:
        return float(self.booked / self.maximum) if self.maximum > 0 else None


def calendar_weeks(today: date, count: int = CALENDAR_WEEKS) -> list[date]:
    return weeks_from(monday_of(today), count)


def capacity_rows(session: Session, today: date, by: str = "process") -> list[CapacityRow]:
    """Maximum, booked and held hours per process (or region) and week, every group x
    week of the calendar present (zeros where nothing is offered)."""
    weeks = calendar_weeks(today)
    key = col(CapacityBucket.resource) if by == "process" else col(Factory.region)
    rows = session.execute(
        sa.select(
            key,
            col(CapacityBucket.point_in_time),
            sa.func.sum(CapacityBucket.maximum_hours),
            sa.func.sum(CapacityBucket.booked_hours),
            sa.func.sum(CapacityBucket.held_hours),
        )
        .join(Factory, col(Factory.id) == col(CapacityBucket.factory_id))
        .where(
            col(Factory.status) == FactoryStatus.VERIFIED,
            col(CapacityBucket.point_in_time) >= weeks[0],
            col(CapacityBucket.point_in_time) <= weeks[-1],
        )
        .group_by(key, col(CapacityBucket.point_in_time))
    ).all()
    found = {(k, w): (Decimal(m), Decimal(b), Decimal(h)) for k, w, m, b, h in rows}
    keys = sorted({k for k, _ in found})
    zero = (NO_HOURS, NO_HOURS, NO_HOURS)
    return [CapacityRow(k, w, *found.get((k, w), zero)) for k in keys for w in weeks]


def idle_hours(rows: list[CapacityRow], today: date) -> dict[str, Decimal]:
    """Free hours this week and next, over every process."""
    this_week = monday_of(today)
    next_week = this_week + timedelta(weeks=1)
    totals = {"this_week": NO_HOURS, "next_week": NO_HOURS}
    for row in rows:
        if row.week == this_week:
            totals["this_week"] += row.free
        elif row.week == next_week:
            totals["next_week"] += row.free
    return totals


@dataclass(frozen=True)
class FillRow:
    """Orders posted in one week: hours ordered and hours factories accepted."""

    week: date
    orders: int
    ordered: Decimal
    accepted: Decimal

    @property
    def fill(self) -> float | None:
        return float(self.accepted / self.ordered) if self.ordered > 0 else None


def fill_rows(session: Session, today: date, count: int = FILL_WEEKS) -> list[FillRow]:
    """Fill rate (accepted ÷ ordered hours) of the orders posted in each of the last
    `count` weeks, this one included."""
    first = monday_of(today) - timedelta(weeks=count - 1)
    start = datetime.combine(first, time.min, tzinfo=UTC)
    orders = session.exec(
        select(Order.id, Order.created_at).where(
            Order.created_at >= start, col(Order.state).not_in(NOT_DEMAND)
        )
    ).all()
    week_of = {oid: monday_of(created.date()) for oid, created in orders}
    ordered: dict[date, Decimal] = defaultdict(Decimal)
    accepted: dict[date, Decimal] = defaultdict(Decimal)
    counts: dict[date, int] = defaultdict(int)
    for week in week_of.values():
        counts[week] += 1
    if week_of:
        ids = list(week_of)
        for oid, hours in session.exec(
            select(OrderLine.order_id, sa.func.sum(OrderLine.hours))
            .where(col(OrderLine.order_id).in_(ids))
            .group_by(col(OrderLine.order_id))
        ).all():
            ordered[week_of[oid]] += Decimal(hours)
        for oid, hours in session.exec(
            select(Proposal.order_id, sa.func.sum(Proposal.hours))
            .where(col(Proposal.order_id).in_(ids), Proposal.state == ProposalState.ACCEPTED)
            .group_by(col(Proposal.order_id))
        ).all():
            accepted[week_of[oid]] += Decimal(hours)
    return [FillRow(w, counts[w], ordered[w], accepted[w]) for w in weeks_from(first, count)]


@dataclass(frozen=True)
class RunRow:
    """A finished matching run: how long, how much placed, cost against the LP bound."""

    id: int
    kind: str
    state: str
    finished_at: datetime
    duration_s: float | None
    orders: int
    currency: str | None
    fill: float | None
    cost: float | None
    bound: float | None

    @property
    def cost_over_bound(self) -> float | None:
        if self.cost is None or not self.bound:
            return None
        return self.cost / self.bound


def run_rows(session: Session, limit: int = RUNS_SHOWN) -> list[RunRow]:
    """The latest finished runs, newest first: the plan's fill, cost and bound, read from
    the stored plan in SQL (plans of large runs are big; only three numbers are needed)."""
    plan = col(MatchRun.plan)
    orders = (
        select(sa.func.count())
        .where(col(MatchRunOrder.match_run_id) == col(MatchRun.id))
        .scalar_subquery()
    )
    # The engine's costs are in minor units of the orders' currency (one per order).
    currency = (
        select(sa.func.min(Order.currency))
        .join(MatchRunOrder, col(MatchRunOrder.order_id) == col(Order.id))
        .where(col(MatchRunOrder.match_run_id) == col(MatchRun.id))
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(
            col(MatchRun.id),
            col(MatchRun.kind),
            col(MatchRun.state),
            col(MatchRun.started_at),
            col(MatchRun.finished_at),
            orders,
            currency,
            plan["fill"].as_float(),
            plan["objective"].as_float(),
            plan["bound"].as_float(),
        )
        .where(col(MatchRun.state).in_((MatchRunState.SUCCEEDED, MatchRunState.FAILED)))
        .where(col(MatchRun.finished_at).is_not(None))
        .order_by(col(MatchRun.finished_at).desc())
        .limit(limit)
    ).all()
    return [
        RunRow(
            id=run_id,
            kind=kind,
            state=state,
            finished_at=finished,
            duration_s=(finished - started).total_seconds() if started else None,
            orders=int(count),
            currency=currency_code,
            fill=fill,
            cost=cost,
            bound=bound,
        )
        for run_id, kind, state, started, finished, count, currency_code, fill, cost, bound in rows
    ]


@dataclass(frozen=True)
class FactoryRow:
    """A factory needing the operator's attention, with why."""

    id: int
    name: str
    region: str
    status: str
    since: datetime | None


def stale_factories(session: Session, now: datetime) -> list[FactoryRow]:
    """Verified factories whose capacity has not changed for STALE_AFTER (or ever)."""
    updated = col(Factory.capacity_updated_at)
    rows = session.exec(
        select(Factory)
        .where(Factory.status == FactoryStatus.VERIFIED)
        .where(sa.or_(updated.is_(None), updated < now - STALE_AFTER))
        .order_by(updated.asc().nulls_first(), col(Factory.id))
    ).all()
    return [_factory_row(f, f.capacity_updated_at) for f in rows]


def pending_factories(session: Session) -> list[FactoryRow]:
    rows = session.exec(
        select(Factory)
        .where(Factory.status == FactoryStatus.PENDING)
        .order_by(col(Factory.created_at), col(Factory.id))
    ).all()
    return [_factory_row(f, f.created_at) for f in rows]


def _factory_row(factory: Factory, since: datetime | None) -> FactoryRow:
    return FactoryRow(id_of(factory), factory.name, factory.region, factory.status, since)


@dataclass(frozen=True)
class ExpiringRow:
    factory_id: int
    factory_name: str
    certificate_type: str
    registration_number: str
    valid_until: date


def expiring_certifications(session: Session, today: date) -> list[ExpiringRow]:
    """Certifications of verified or pending factories ending within EXPIRY_WINDOW."""
    rows = session.exec(
        select(Certification, Factory.name)
        .join(Factory, col(Factory.id) == col(Certification.factory_id))
        .where(col(Factory.status).in_((FactoryStatus.VERIFIED, FactoryStatus.PENDING)))
        .where(Certification.valid_until >= today)
        .where(Certification.valid_until <= today + EXPIRY_WINDOW)
        .order_by(col(Certification.valid_until), col(Certification.id))
    ).all()
    return [
        ExpiringRow(c.factory_id, name, c.certificate_type, c.registration_number, c.valid_until)
        for c, name in rows
    ]


@dataclass
class Dashboard:
    today: date
    by_process: list[CapacityRow]
    by_region: list[CapacityRow]
    idle: dict[str, Decimal]
    fill: list[FillRow]
    runs: list[RunRow]
    stale: list[FactoryRow]
    pending: list[FactoryRow]
    expiring: list[ExpiringRow]
    machines: list[MachineRow]


def dashboard(session: Session, today: date, now: datetime) -> Dashboard:
    by_process = capacity_rows(session, today, "process")
    return Dashboard(
        today=today,
        by_process=by_process,
        by_region=capacity_rows(session, today, "region"),
        idle=idle_hours(by_process, today),
        fill=fill_rows(session, today),
        runs=run_rows(session),
        stale=stale_factories(session, now),
        pending=pending_factories(session),
        expiring=expiring_certifications(session, today),
        machines=machine_rows(session, now),
    )
