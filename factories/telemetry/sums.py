"""A process's weeks set to the sum of its machines' contributions, for many processes
at once: all those a batch of observations changed, or every machine-fed process when a
new week begins (docs/telemetry.md, "How observations change capacity").

Written through the calendar's own service (`factories.capacity.floor`, then
`set_capacity`), never below the hours booked or held: the cells that would have fallen
below come back as shortfalls. Every query here covers all the processes together; the
cells are locked (in id order) before they are read, so no booking slips in meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.calendar import CALENDAR_WEEKS, CapacityChange
from factories.capacity.floor import Shortfall, set_capacity_not_below_booked
from factories.capacity.weeks import monday_of, monday_of_week_label, week_label
from factories.models import Capability, CapacityBucket, Factory, id_of
from factories.telemetry.rule import Contributing, machine_contribution, weeks_ahead
from factories.telemetry.store import MachineRow, lock_groups, machines_of_groups

Group = tuple[int, str]  # (factory id, process code)


@dataclass
class Summed:
    # Per factory id, the cells that machines would have taken below the booked hours.
    shortfalls: dict[int, list[Shortfall]] = field(default_factory=dict)
    factories: dict[int, Factory] = field(default_factory=dict)


def weeks_of(machine: Contributing, today: date) -> list[date]:
    """The weeks a machine's contributions are looked at: the calendar's weeks from this
    one, and any week of its forecast."""
    weeks = set(weeks_ahead(today, CALENDAR_WEEKS))
    this_week = monday_of(today)
    for label in machine.forecast or {}:
        monday = monday_of_week_label(label)
        if monday >= this_week:
            weeks.add(monday)
    return sorted(weeks)


def contributions(machine: Contributing, weeks: Sequence[date]) -> dict[str, str]:
    return {week_label(w): str(machine_contribution(machine, w)) for w in weeks}


def _total(machines: Sequence[MachineRow], week: date) -> Decimal:
    return sum((machine_contribution(m, week) for m in machines), Decimal(0))


def set_groups(session: Session, groups: Collection[Group], today: date, now: datetime) -> Summed:
    """Each process's weeks from this one set to the sum of its machines' contributions:
    the calendar's weeks, those of any forecast, and any later week already published. A
    process without machines, or that is no longer one of the factory's capabilities, is
    left as it stands."""
    summed = Summed()
    if not groups:
        return summed
    lock_groups(session, groups)
    by_group: dict[Group, list[MachineRow]] = defaultdict(list)
    for machine in machines_of_groups(session, groups):
        by_group[(machine.factory_id, machine.process_code)].append(machine)
    factory_ids = sorted({f for f, _ in by_group})
    if not factory_ids:
        return summed
    resources: dict[int, list[str]] = defaultdict(list)
    for factory_id, process in session.exec(
        select(Capability.factory_id, Capability.process_code)
        .where(col(Capability.factory_id).in_(factory_ids))
        .order_by(col(Capability.process_code))
    ).all():
        resources[factory_id].append(process)
    live = sorted(g for g in by_group if g[1] in resources[g[0]])
    if not live:
        return summed
    this_week = monday_of(today)
    cells: dict[int, dict[tuple[str, date], CapacityBucket]] = defaultdict(dict)
    for cell in session.exec(
        select(CapacityBucket)
        .where(
            sa.tuple_(col(CapacityBucket.factory_id), col(CapacityBucket.resource)).in_(live),
            col(CapacityBucket.point_in_time) >= this_week,
        )
        .order_by(col(CapacityBucket.id))
        .with_for_update()
    ).all():
        cells[cell.factory_id][(cell.resource, cell.point_in_time)] = cell
    factories = {
        id_of(f): f
        for f in session.exec(select(Factory).where(col(Factory.id).in_(factory_ids))).all()
    }
    changes: dict[int, list[CapacityChange]] = defaultdict(list)
    for factory_id, process in live:
        machines = by_group[(factory_id, process)]
        weeks = set(weeks_ahead(today, CALENDAR_WEEKS))
        for machine in machines:
            weeks.update(weeks_of(machine, today))
        weeks.update(week for resource, week in cells[factory_id] if resource == process)
        changes[factory_id].extend(
            CapacityChange(process, week, _total(machines, week)) for week in sorted(weeks)
        )
    for factory_id, wanted in sorted(changes.items()):
        factory = factories.get(factory_id)
        if factory is None:
            continue
        summed.factories[factory_id] = factory
        shortfalls = set_capacity_not_below_booked(
            session,
            factory,
            wanted,
            today,
            now,
            locked=cells[factory_id],
            resources=resources[factory_id],
        )
        if shortfalls:
            summed.shortfalls[factory_id] = shortfalls
    return summed
