"""The one observation service: MQTT messages and OPC UA readings both end here.

Every observation is kept. One newer than the machine's newest applied one is applied:
the machine's state, forecast and utilization change, and so do its contributions
(`rule`); where a contribution changed, the weeks of its process are set again through
the calendar's own service, never below the hours booked or held
(`factories.capacity.floor`). The cells that would have fallen below come back as
shortfalls, for the marketplace to tell the people whose work is there.

Observations are taken in batches (one transaction for many messages; `store` writes
them in two statements): the machines reporting are locked in id order first, and every
machine of a process is locked again before its sum is set, so that two workers (or a
worker and a registration) never sum a process from different pictures of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.calendar import CALENDAR_WEEKS, CapacityChange, factory_resources
from factories.capacity.floor import Shortfall, set_capacity_not_below_booked
from factories.capacity.weeks import monday_of, monday_of_week_label, week_label
from factories.models import CapacityBucket, Factory, get_by_id, id_of
from factories.telemetry.messages import Reading
from factories.telemetry.models import DOWN_STATES, Machine, Observation
from factories.telemetry.rule import down_since_after, machine_contribution, weeks_ahead
from factories.telemetry.store import insert_observations, write_machines


@dataclass(frozen=True)
class Item:
    """One observation to take: the machine (by its row id), what it said, when it
    arrived, and by which way (`mqtt`, `opcua`)."""

    machine_pk: int
    reading: Reading
    received_at: datetime
    source: str = "mqtt"


@dataclass
class BatchOutcome:
    applied: int = 0
    stale: int = 0
    # Per factory id, the cells that machines would have taken below the booked hours.
    shortfalls: dict[int, list[Shortfall]] = field(default_factory=dict)
    factories: dict[int, Factory] = field(default_factory=dict)


def weeks_of(machine: Machine, today: date) -> list[date]:
    """The weeks a machine's contributions are looked at: the calendar's weeks from this
    one, and any week of its forecast."""
    weeks = set(weeks_ahead(today, CALENDAR_WEEKS))
    this_week = monday_of(today)
    for label in machine.forecast or {}:
        monday = monday_of_week_label(label)
        if monday >= this_week:
            weeks.add(monday)
    return sorted(weeks)


def contributions(machine: Machine, weeks: Sequence[date]) -> dict[str, str]:
    return {week_label(w): str(machine_contribution(machine, w)) for w in weeks}


def _lock_machines(session: Session, groups: set[tuple[int, str]]) -> list[Machine]:
    """Every machine of the (factory, process) groups, locked in id order."""
    if not groups:
        return []
    return list(
        session.exec(
            select(Machine)
            .where(sa.tuple_(col(Machine.factory_id), col(Machine.process_code)).in_(groups))
            .order_by(col(Machine.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    )


def _contribution_key(machine: Machine) -> tuple[object, ...]:
    """What a machine's contributions depend on besides its nominal hours and the day."""
    return (machine.state in DOWN_STATES, machine.down_since, machine.forecast or {})


def _may_change(machine: Machine, reading: Reading) -> bool:
    """Whether `reading` can change the machine's contributions: most reports repeat the
    state of the last one, and the rule need not be worked out again for them."""
    if reading.available_hours:
        return True
    return (reading.state in DOWN_STATES) != (machine.state in DOWN_STATES)


def _apply(machine: Machine, reading: Reading) -> None:
    machine.down_since = down_since_after(
        machine.state, machine.down_since, reading.state, reading.at
    )
    machine.state = reading.state
    machine.observed_at = reading.at
    if reading.available_hours:
        machine.forecast = {k: str(v) for k, v in reading.available_hours.items()}
    if reading.utilization is not None:
        machine.utilization = reading.utilization


def observe_batch(
    session: Session, items: Sequence[Item], today: date, now: datetime
) -> BatchOutcome:
    """Record and apply `items` in the order given; the weeks of every process whose
    contributions changed are set once, at the end."""
    outcome = BatchOutcome()
    if not items:
        return outcome
    pks = sorted({item.machine_pk for item in items})
    machines = {
        id_of(m): m
        for m in session.exec(
            select(Machine)
            .where(col(Machine.id).in_(pks))
            .order_by(col(Machine.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    }
    # Changed here, written by `store` in two statements rather than one per machine.
    for locked in machines.values():
        session.expunge(locked)
    touched: dict[int, Machine] = {}
    changed: set[tuple[int, str]] = set()
    rows = []
    for item in items:
        machine = machines.get(item.machine_pk)
        if machine is None:  # removed meanwhile
            continue
        touched[item.machine_pk] = machine
        machine.last_seen_at = max(machine.last_seen_at or item.received_at, item.received_at)
        reading = item.reading
        applied = machine.observed_at is None or reading.at >= machine.observed_at
        changes: dict[str, list[str]] = {}
        if applied:
            key = _contribution_key(machine)
            may_change = _may_change(machine, reading)
            before = contributions(machine, weeks_of(machine, today)) if may_change else None
            _apply(machine, reading)
            if before is not None and _contribution_key(machine) != key:
                after = contributions(machine, weeks_of(machine, today))
                changes = {
                    w: [before.get(w, ""), hours]
                    for w, hours in after.items()
                    if before.get(w) != hours
                }
            if changes:
                changed.add((machine.factory_id, machine.process_code))
            outcome.applied += 1
        else:
            outcome.stale += 1
        rows.append(
            {
                "machine_id": item.machine_pk,
                "observed_at": reading.at,
                "received_at": item.received_at,
                "source": item.source,
                "state": reading.state.value,
                "available_hours": {k: str(v) for k, v in reading.available_hours.items()},
                "utilization": reading.utilization,
                "applied": applied,
                "changes": changes,
            }
        )
    write_machines(session, list(touched.values()))
    insert_observations(session, rows)
    for factory_id, process in sorted(changed):
        factory = outcome.factories.get(factory_id) or get_by_id(session, Factory, factory_id)
        if factory is None:
            continue
        outcome.factories[factory_id] = factory
        # Every machine of the process, as just written, locked while its sum is set.
        group = _lock_machines(session, {(factory_id, process)})
        shortfalls = _set_weeks(session, factory, process, group, today, now)
        if shortfalls:
            outcome.shortfalls.setdefault(factory_id, []).extend(shortfalls)
    return outcome


def _set_weeks(
    session: Session,
    factory: Factory,
    process: str,
    machines: Sequence[Machine],
    today: date,
    now: datetime,
) -> list[Shortfall]:
    """The process's weeks from this one set to the sum of its machines' contributions:
    the calendar's weeks, those of any forecast, and any later week already published."""
    if not machines or process not in factory_resources(session, id_of(factory)):
        return []
    weeks = set(weeks_ahead(today, CALENDAR_WEEKS))
    for machine in machines:
        weeks.update(weeks_of(machine, today))
    weeks.update(
        session.exec(
            select(col(CapacityBucket.point_in_time)).where(
                CapacityBucket.factory_id == factory.id,
                CapacityBucket.resource == process,
                col(CapacityBucket.point_in_time) >= monday_of(today),
            )
        ).all()
    )
    changes = [CapacityChange(process, week, _total(machines, week)) for week in sorted(weeks)]
    return set_capacity_not_below_booked(session, factory, changes, today, now)


def _total(machines: Sequence[Machine], week: date) -> Decimal:
    return sum((machine_contribution(m, week) for m in machines), Decimal(0))


def recompute_process(
    session: Session, factory: Factory, process: str, today: date, now: datetime
) -> list[Shortfall]:
    """Set a process's weeks from its machines again (after a registration, a removal,
    or when a new week begins)."""
    machines = _lock_machines(session, {(id_of(factory), process)})
    return _set_weeks(session, factory, process, machines, today, now)


def recompute_all(session: Session, today: date, now: datetime) -> dict[int, list[Shortfall]]:
    """Every process fed by machines, set again: the worker does this when it starts and
    when a new week begins, so that the newest week of the calendar follows too."""
    groups = sorted(set(session.exec(select(Machine.factory_id, Machine.process_code)).all()))
    found: dict[int, list[Shortfall]] = {}
    for factory_id, process in groups:
        factory = get_by_id(session, Factory, factory_id)
        if factory is not None:
            shortfalls = recompute_process(session, factory, process, today, now)
            if shortfalls:
                found.setdefault(factory_id, []).extend(shortfalls)
    return found


def recent_observations(session: Session, machine: Machine, limit: int = 20) -> list[Observation]:
    return list(
        session.exec(
            select(Observation)
            .where(Observation.machine_id == machine.id)
            .order_by(col(Observation.id).desc())
            .limit(limit)
        ).all()
    )


def since(now: datetime, minutes: int) -> datetime:
    return now - timedelta(minutes=minutes)
