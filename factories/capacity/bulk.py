"""Actions on many cells of a factory's capacity calendar at once, each one call of the
calendar's `set_capacity` (all or nothing): fill weeks with the same hours, copy a week,
close weeks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session

from factories.capacity.calendar import (
    HORIZON_WEEKS,
    CapacityChange,
    capacity_grid,
    factory_resources,
    lock_buckets,
    set_capacity,
)
from factories.capacity.hours import MAX_WEEK_HOURS
from factories.capacity.weeks import weeks_from
from factories.errors import N_, FactoryError, Problems
from factories.models import CapacityBucket, Factory, id_of


def _chosen_resources(
    session: Session, factory: Factory, resources: list[str] | None, problems: Problems
) -> list[str]:
    """The resources a bulk action applies to: those given, or all of the factory's."""
    known = factory_resources(session, id_of(factory))
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
    return close_weeks(session, factory, [week], today, now, resources)


def close_weeks(
    session: Session,
    factory: Factory,
    weeks: list[date],
    today: date,
    now: datetime,
    resources: list[str] | None = None,
) -> Decimal:
    """`close_week` for several weeks at once: one locked read and one write for all."""
    problems = Problems()
    chosen = _chosen_resources(session, factory, resources, problems)
    problems.raise_if_any()
    keys = [(r, w) for w in weeks for r in chosen]
    existing = lock_buckets(session, id_of(factory), keys)
    changes = []
    kept = Decimal(0)
    for resource, week in keys:
        bucket = existing.get((resource, week))
        booked = Decimal(bucket.booked_hours) if bucket is not None else Decimal(0)
        kept += booked
        changes.append(CapacityChange(resource, week, booked, booked, field="week"))
    set_capacity(session, factory, changes, today, now)
    return kept
