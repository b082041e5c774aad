"""The capacity calendar: ISO weeks, free hours, and the figures derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlmodel import Session, select

from factories.errors import N_, FactoryError, Problems
from factories.models import Capability, CapacityBucket, Factory, FactoryStatus


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    """`2026-W48`, the period name used in matching problems."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of_week_label(label: str) -> date:
    """Inverse of week_label; raises ValueError naming the bad label."""
    try:
        year_part, week_part = label.split("-W")
        return date.fromisocalendar(int(year_part), int(week_part), 1)
    except ValueError as error:
        raise ValueError(N_("not an ISO week like 2026-W48: %(label)r", label=label)) from error


def last_week(first: date, count: int, field: str) -> date:
    """The Monday of the last of `count` ISO weeks from the week of `first`.

    Python's dates end on 9999-12-31: weeks beyond it are a FactoryError at `field`,
    never an OverflowError.
    """
    monday = monday_of(first)
    try:
        return monday + timedelta(weeks=count - 1)
    except OverflowError:
        raise FactoryError(
            field,
            N_(
                "%(weeks)s weeks from %(week)s run past the end of the calendar",
                weeks=count,
                week=week_label(monday),
            ),
        ) from None


def weeks_from(start: date, count: int, field: str = "week") -> list[date]:
    """The Mondays of `count` ISO weeks from the week of `start` (see last_week)."""
    first = monday_of(start)
    if count > 0:
        last_week(first, count, field)
    return [first + timedelta(weeks=i) for i in range(count)]


def free_hours_by_process(session: Session, week: date) -> dict[str, Decimal]:
    """Free hours of verified factories in one week, per process code, largest first."""
    free = sa.func.sum(CapacityBucket.maximum_hours - CapacityBucket.booked_hours)
    rows = session.exec(
        select(CapacityBucket.resource, free)
        .join(Factory, Factory.id == CapacityBucket.factory_id)
        .where(CapacityBucket.point_in_time == monday_of(week))
        .where(Factory.status == FactoryStatus.VERIFIED)
        .group_by(CapacityBucket.resource)
        .order_by(free.desc())
    ).all()
    return {resource: Decimal(hours) for resource, hours in rows}


# The calendar a factory keeps -----------------------------------------------------------

CALENDAR_WEEKS = 12
# The furthest a factory may plan ahead, in weeks from this week.
HORIZON_WEEKS = 104
STALE_AFTER = timedelta(days=14)
# Hours one resource (all machines of one process) can offer in one week.
MAX_WEEK_HOURS = Decimal(10_000)
HOURS_PLACES = Decimal("0.01")


def is_stale(factory: Factory, now: datetime) -> bool:
    """True when the factory has not touched its capacity for STALE_AFTER."""
    updated = factory.capacity_updated_at
    return updated is None or now - updated > STALE_AFTER


def days_since_capacity_update(factory: Factory, now: datetime) -> int | None:
    if factory.capacity_updated_at is None:
        return None
    return (now - factory.capacity_updated_at).days


def parse_hours(value: object) -> Decimal:
    """Hours as Decimal with at most two places; ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError(N_("must be a number of hours"))
    try:
        hours = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(N_("must be a number of hours")) from error
    if not hours.is_finite():
        raise ValueError(N_("must be a number of hours"))
    if abs(hours) > MAX_WEEK_HOURS:  # also keeps quantize within the decimal context
        raise ValueError(N_("must be between 0 and %(maximum)s hours", maximum=MAX_WEEK_HOURS))
    if hours != hours.quantize(HOURS_PLACES, rounding=ROUND_HALF_UP):
        raise ValueError(N_("has more than two decimal places"))
    return hours.quantize(HOURS_PLACES)


def parse_week(value: str) -> date:
    """`2026-W48` or any ISO date in that week -> the Monday of the week."""
    text = str(value).strip()
    if "-W" in text:
        return monday_of_week_label(text)
    try:
        return monday_of(date.fromisoformat(text))
    except ValueError as error:
        raise ValueError(
            N_("not an ISO week like 2026-W48 or a date: %(text)r", text=text)
        ) from error


def hours_text(hours: Decimal) -> str:
    """`40` for 40.00, `12.5` for 12.50: how hours read in messages."""
    text = f"{hours.quantize(HOURS_PLACES):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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
        return self.maximum_hours - self.booked_hours

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
        zero = Decimal("0.00")
        return CapacityCell(resource, week, zero, zero, zero, recorded=False)

    def week_totals(self, week: date) -> CapacityCell:
        cells = [self.cell(r, week) for r in self.resources]
        return CapacityCell(
            "",
            week,
            sum((c.actual_hours for c in cells), Decimal("0.00")),
            sum((c.maximum_hours for c in cells), Decimal("0.00")),
            sum((c.booked_hours for c in cells), Decimal("0.00")),
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
    resources = factory_resources(session, factory.id)
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
    return CapacityGrid(factory.id, resources, week_list, cells, is_stale(factory, now))


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


def set_capacity(
    session: Session,
    factory: Factory,
    changes: list[CapacityChange],
    today: date,
    now: datetime,
    *,
    allow_past: bool = False,
    booked: dict[tuple[str, date], Decimal] | None = None,
) -> list[CapacityBucket]:
    """Apply all changes or none: every problem is reported before anything is written.

    Maximum hours can never fall below the hours already booked; the error says by how
    much. `allow_past` and `booked` are for restoring a profile, where past weeks and
    booked hours come from the file.
    """
    problems = Problems()
    resources = set(factory_resources(session, factory.id))
    this_week = monday_of(today)
    horizon = this_week + timedelta(weeks=HORIZON_WEEKS)
    seen: set[tuple[str, date]] = set()
    for change in changes:
        if change.resource not in resources:
            problems.add(
                change.resource_field or change.field,
                N_("%(resource)r is not a capability of this factory", resource=change.resource),
            )
        if change.week.weekday() != 0:
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
    problems.raise_if_any()

    existing = _lock_buckets(session, factory.id, [(c.resource, c.week) for c in changes])
    for change in changes:
        bucket = existing.get((change.resource, change.week))
        already = booked.get((change.resource, change.week)) if booked is not None else None
        if already is None:
            already = Decimal(bucket.booked_hours) if bucket is not None else Decimal(0)
        if change.maximum_hours < already:
            short = already - change.maximum_hours
            problems.add(
                change.field,
                N_(
                    "%(resource)s, week %(week)s: %(booked)s h are already booked, so the "
                    "maximum cannot be %(maximum)s h (%(short)s h too little)",
                    resource=change.resource,
                    week=week_label(change.week),
                    booked=hours_text(already),
                    maximum=hours_text(change.maximum_hours),
                    short=hours_text(short),
                ),
            )
    problems.raise_if_any()

    written = []
    for change in changes:
        bucket = existing.get((change.resource, change.week))
        actual = change.actual_hours if change.actual_hours is not None else change.maximum_hours
        if bucket is None:
            bucket = CapacityBucket(
                factory_id=factory.id,
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


def _lock_buckets(
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
            CapacityBucket.resource.in_(resources),
            CapacityBucket.point_in_time.in_(weeks),
        )
        .order_by(CapacityBucket.id)
        .with_for_update()
    ).all()
    wanted = set(keys)
    return {
        (b.resource, b.point_in_time): b for b in rows if (b.resource, b.point_in_time) in wanted
    }


def _chosen_resources(
    session: Session, factory: Factory, resources: list[str] | None, problems: Problems
) -> list[str]:
    """The resources a bulk action applies to: those given, or all of the factory's."""
    known = factory_resources(session, factory.id)
    if not known:
        problems.add("resources", N_("this factory has no capabilities yet; add one first"))
        return []
    if not resources:
        return known
    unknown = [r for r in resources if r not in known]
    if unknown:
        problems.add(
            "resources",
            N_("not capabilities of this factory: %(codes)s", codes=", ".join(unknown)),
        )
    return list(dict.fromkeys(r for r in resources if r in known))


def fill_capacity(
    session: Session,
    factory: Factory,
    hours: Decimal,
    first_week: date,
    weeks: int,
    today: date,
    now: datetime,
    resources: list[str] | None = None,
) -> list[CapacityBucket]:
    """`40 h per week for 8 weeks`: the same maximum for each resource and week."""
    problems = Problems()
    if not (hours.is_finite() and Decimal(0) <= hours <= MAX_WEEK_HOURS):
        problems.add("hours", N_("must be between 0 and %(maximum)s hours", maximum=MAX_WEEK_HOURS))
    week_list: list[date] = []
    if not 1 <= weeks <= HORIZON_WEEKS:
        problems.add("weeks", N_("must be from 1 to %(maximum)s", maximum=HORIZON_WEEKS))
    else:
        try:
            week_list = weeks_from(first_week, weeks, "first_week")
        except FactoryError as error:
            problems.add_error(error)
    chosen = _chosen_resources(session, factory, resources, problems)
    problems.raise_if_any()
    changes = [
        CapacityChange(r, week, hours, field="hours", week_field="first_week")
        for week in week_list
        for r in chosen
    ]
    return set_capacity(session, factory, changes, today, now)


def copy_week(
    session: Session,
    factory: Factory,
    source_week: date,
    target_weeks: list[date],
    today: date,
    now: datetime,
) -> list[CapacityBucket]:
    """Copy maximum and planned hours of every resource from one week to others."""
    problems = Problems()
    if not target_weeks:
        problems.add("target_weeks", N_("choose at least one week to copy to"))
    if source_week in target_weeks:
        problems.add("target_weeks", N_("a week cannot be copied onto itself"))
    problems.raise_if_any()
    grid = capacity_grid(session, factory, today, now, weeks=1, first_week=source_week)
    changes = [
        CapacityChange(
            resource,
            target,
            grid.cell(resource, source_week).maximum_hours,
            grid.cell(resource, source_week).actual_hours,
            field="target_weeks",
            actual_field="target_weeks",
            week_field="target_weeks",
        )
        for target in target_weeks
        for resource in grid.resources
    ]
    return set_capacity(session, factory, changes, today, now)


def close_week(
    session: Session,
    factory: Factory,
    week: date,
    today: date,
    now: datetime,
    resources: list[str] | None = None,
) -> Decimal:
    """Offer nothing more in a week: the maximum drops to what is already booked.

    Booked work stays (a closed week keeps its commitments); returns the booked hours
    that remain, so the caller can say so.
    """
    problems = Problems()
    chosen = _chosen_resources(session, factory, resources, problems)
    problems.raise_if_any()
    existing = _lock_buckets(session, factory.id, [(r, week) for r in chosen])
    changes = []
    kept = Decimal(0)
    for resource in chosen:
        bucket = existing.get((resource, week))
        booked = Decimal(bucket.booked_hours) if bucket is not None else Decimal(0)
        kept += booked
        changes.append(CapacityChange(resource, week, booked, booked, field="week"))
    set_capacity(session, factory, changes, today, now)
    return kept
