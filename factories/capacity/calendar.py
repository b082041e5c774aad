"""The capacity calendar a factory keeps: the grid of resources x weeks, the one
service that changes it (`set_capacity`; fill, copy and close are built on it in
`bulk.py`), and how stale it is.

The rules of a change live in `check_changes` and `check_not_below_booked`, so that a
caller who has to report every problem of a larger input before writing anything (the
profile import) hears the calendar's rules in the calendar's words.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.hours import (
    MAX_WEEK_HOURS,
    NO_HOURS,
    free_hours,
    free_hours_sql,
    hours_text,
)
from factories.capacity.weeks import is_monday, monday_of, week_label, weeks_from
from factories.errors import N_, Problems
from factories.models import Capability, CapacityBucket, Factory, FactoryStatus, id_of

CALENDAR_WEEKS = 12
# The furthest a factory may plan ahead, in weeks from this week.
HORIZON_WEEKS = 104
STALE_AFTER = timedelta(days=14)


def free_hours_by_process(session: Session, week: date) -> dict[str, Decimal]:
    """Free hours of verified factories in one week, per process code, largest first."""
    free = sa.func.sum(free_hours_sql(CapacityBucket))
    rows = session.exec(
        select(CapacityBucket.resource, free)
        .join(Factory, col(Factory.id) == col(CapacityBucket.factory_id))
        .where(CapacityBucket.point_in_time == monday_of(week))
        .where(Factory.status == FactoryStatus.VERIFIED)
        .group_by(CapacityBucket.resource)
        .order_by(free.desc())
    ).all()
    return {resource: Decimal(hours) for resource, hours in rows}


def is_stale(factory: Factory, now: datetime) -> bool:
    """True when the factory has not touched its capacity for STALE_AFTER."""
    updated = factory.capacity_updated_at
    return updated is None or now - updated > STALE_AFTER


def days_since_capacity_update(factory: Factory, now: datetime) -> int | None:
    if factory.capacity_updated_at is None:
        return None
    return (now - factory.capacity_updated_at).days


@dataclass(frozen=True)
class CapacityCell:
    resource: str
    week: date
    actual_hours: Decimal
    maximum_hours: Decimal
    booked_hours: Decimal
    recorded: bool  # False: no row yet, all zero

    @property
    def free_hours(self) -> Decimal:
        return free_hours(self.maximum_hours, self.booked_hours)

    @property
    def label(self) -> str:
        return week_label(self.week)


@dataclass
class CapacityGrid:
    """Resources (process codes) x ISO weeks of one factory."""

    factory_id: int
    resources: list[str]
    weeks: list[date]
    cells: dict[tuple[str, date], CapacityCell]
    stale: bool

    def cell(self, resource: str, week: date) -> CapacityCell:
        found = self.cells.get((resource, week))
        if found is not None:
            return found
        return CapacityCell(resource, week, NO_HOURS, NO_HOURS, NO_HOURS, recorded=False)

    def week_totals(self, week: date) -> CapacityCell:
        cells = [self.cell(r, week) for r in self.resources]
        return CapacityCell(
            "",
            week,
            sum((c.actual_hours for c in cells), NO_HOURS),
            sum((c.maximum_hours for c in cells), NO_HOURS),
            sum((c.booked_hours for c in cells), NO_HOURS),
            recorded=any(c.recorded for c in cells),
        )


def factory_resources(session: Session, factory_id: int) -> list[str]:
    """The resources of a factory's calendar: the process codes of its capabilities."""
    return list(
        session.exec(
            select(Capability.process_code)
            .where(Capability.factory_id == factory_id)
            .order_by(Capability.process_code)
        ).all()
    )


def capacity_grid(
    session: Session,
    factory: Factory,
    today: date,
    now: datetime,
    weeks: int = CALENDAR_WEEKS,
    first_week: date | None = None,
    week_field: str = "first_week",
) -> CapacityGrid:
    """`weeks` ISO weeks from `first_week` (default: this week); weeks past the end of
    the calendar are a FactoryError at `week_field`."""
    week_list = weeks_from(first_week or today, weeks, week_field)
    resources = factory_resources(session, id_of(factory))
    buckets = session.exec(
        select(CapacityBucket).where(
            CapacityBucket.factory_id == factory.id,
            CapacityBucket.point_in_time >= week_list[0],
            CapacityBucket.point_in_time <= week_list[-1],
        )
    ).all()
    cells = {}
    for b in buckets:
        cells[(b.resource, b.point_in_time)] = CapacityCell(
            b.resource,
            b.point_in_time,
            Decimal(b.actual_hours),
            Decimal(b.maximum_hours),
            Decimal(b.booked_hours),
            recorded=True,
        )
        if b.resource not in resources:
            resources.append(b.resource)
    return CapacityGrid(id_of(factory), resources, week_list, cells, is_stale(factory, now))


@dataclass(frozen=True)
class CapacityChange:
    """New maximum (and planned) hours of one resource in one week.

    `field` is the input to blame for a problem with the maximum, `actual_field` for the
    planned hours, `resource_field` for an unknown resource (default: `field`); each
    caller names them in its own terms. Planned hours default to the maximum.
    """

    resource: str
    week: date
    maximum_hours: Decimal
    actual_hours: Decimal | None = None
    field: str = "maximum_hours"
    actual_field: str = "actual_hours"
    week_field: str = "week"
    resource_field: str | None = None


def check_changes(
    changes: list[CapacityChange],
    resources: Collection[str],
    today: date,
    *,
    allow_past: bool = False,
) -> Problems:
    """Every problem of `changes` that the stored calendar does not decide: a resource
    the factory does not have (`resources`), a week that is not a Monday, in the past
    (unless `allow_past`) or beyond the horizon, a cell given twice, hours out of range.
    """
    problems = Problems()
    this_week = monday_of(today)
    horizon = this_week + timedelta(weeks=HORIZON_WEEKS)
    seen: set[tuple[str, date]] = set()
    for change in changes:
        if change.resource not in resources:
            problems.add(
                change.resource_field or change.field,
                N_("%(resource)r is not a capability of this factory", resource=change.resource),
            )
        if not is_monday(change.week):
            problems.add(
                change.week_field,
                N_("%(date)s is not the Monday of an ISO week", date=change.week.isoformat()),
            )
        elif not allow_past and change.week < this_week:
            problems.add(
                change.week_field, N_("week %(week)s is in the past", week=week_label(change.week))
            )
        elif change.week >= horizon:
            problems.add(
                change.week_field,
                N_("week %(week)s is more than two years ahead", week=week_label(change.week)),
            )
        if (change.resource, change.week) in seen:
            problems.add(
                change.week_field,
                N_(
                    "%(resource)s in week %(week)s is given twice",
                    resource=change.resource,
                    week=week_label(change.week),
                ),
            )
        seen.add((change.resource, change.week))
        maximum_ok = Decimal(0) <= change.maximum_hours <= MAX_WEEK_HOURS
        if not maximum_ok:
            problems.add(
                change.field, N_("must be between 0 and %(maximum)s hours", maximum=MAX_WEEK_HOURS)
            )
        if (
            change.actual_hours is not None
            and maximum_ok
            and not Decimal(0) <= change.actual_hours <= change.maximum_hours
        ):
            problems.add(change.actual_field, N_("planned hours must be between 0 and the maximum"))
    return problems


def check_not_below_booked(
    changes: list[CapacityChange], booked: Mapping[tuple[str, date], Decimal]
) -> Problems:
    """A maximum never falls below the hours already booked (`booked`, by resource and
    week; none recorded: none booked); the message says by how much."""
    problems = Problems()
    for change in changes:
        already = booked.get((change.resource, change.week), NO_HOURS)
        if change.maximum_hours < already:
            problems.add(
                change.field,
                N_(
                    "%(resource)s, week %(week)s: %(booked)s h are already booked, so the "
                    "maximum cannot be %(maximum)s h (%(short)s h too little)",
                    resource=change.resource,
                    week=week_label(change.week),
                    booked=hours_text(already),
                    maximum=hours_text(change.maximum_hours),
                    short=hours_text(already - change.maximum_hours),
                ),
            )
    return problems


def set_capacity(
    session: Session,
    factory: Factory,
    changes: list[CapacityChange],
    today: date,
    now: datetime,
    *,
    allow_past: bool = False,
    booked: dict[tuple[str, date], Decimal] | None = None,
    locked: Mapping[tuple[str, date], CapacityBucket] | None = None,
    resources: list[str] | None = None,
) -> list[CapacityBucket]:
    """Apply all changes or none: every problem is reported before anything is written.

    Maximum hours can never fall below the hours already booked; the error says by how
    much. `allow_past` and `booked` are for restoring a profile, where past weeks and
    booked hours come from the file. A caller that already holds the rows locked
    (`lock_buckets`) and knows the factory's resources passes them as `locked` and
    `resources`, and they are not read again.
    """
    if resources is None:
        resources = factory_resources(session, id_of(factory))
    check_changes(changes, resources, today, allow_past=allow_past).raise_if_any()
    existing = (
        dict(locked)
        if locked is not None
        else lock_buckets(session, id_of(factory), [(c.resource, c.week) for c in changes])
    )
    stored = {key: Decimal(bucket.booked_hours) for key, bucket in existing.items()}
    check_not_below_booked(changes, {**stored, **(booked or {})}).raise_if_any()

    written = []
    for change in changes:
        bucket = existing.get((change.resource, change.week))
        actual = change.actual_hours if change.actual_hours is not None else change.maximum_hours
        if bucket is None:
            bucket = CapacityBucket(
                factory_id=id_of(factory),
                resource=change.resource,
                point_in_time=change.week,
                actual_hours=actual,
                maximum_hours=change.maximum_hours,
                booked_hours=Decimal(0),
            )
        if booked is not None and (change.resource, change.week) in booked:
            bucket.booked_hours = booked[(change.resource, change.week)]
        bucket.maximum_hours = change.maximum_hours
        bucket.actual_hours = actual
        bucket.updated_at = now
        session.add(bucket)
        written.append(bucket)
    factory.capacity_updated_at = now
    session.add(factory)
    session.flush()
    return written


def lock_buckets(
    session: Session, factory_id: int, keys: list[tuple[str, date]]
) -> dict[tuple[str, date], CapacityBucket]:
    """The existing rows for `keys`, locked so that no booking slips in meanwhile."""
    if not keys:
        return {}
    weeks = sorted({week for _, week in keys})
    resources = sorted({resource for resource, _ in keys})
    rows = session.exec(
        select(CapacityBucket)
        .where(
            CapacityBucket.factory_id == factory_id,
            col(CapacityBucket.resource).in_(resources),
            col(CapacityBucket.point_in_time).in_(weeks),
        )
        .order_by(col(CapacityBucket.id))
        .with_for_update()
    ).all()
    wanted = set(keys)
    return {
        (b.resource, b.point_in_time): b for b in rows if (b.resource, b.point_in_time) in wanted
    }
