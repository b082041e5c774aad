"""The one observation service: MQTT messages and OPC UA readings both end here.

Every observation is kept, once per machine, instant and content (`Reading.digest`): a
report delivered again (a broker's redelivery, a second worker) is a duplicate and
changes nothing, while a report saying something else at the same instant is a report of
its own. One not older than the machine's newest applied one is applied: the machine's
state, forecast and utilization change, and so do its contributions (`rule`); where a
contribution changed, the weeks of its process are set again through the calendar's own
service, never below the hours booked or held (`sums`). The cells that would have fallen
below come back as shortfalls, for the marketplace to tell the people whose work is
there.

Observations are taken in batches, one transaction each: the machines reporting are
locked in id order and read as plain rows, what they said is worked out in memory, the
machines and observations are written in one statement (`store`), and each process whose
contributions changed is set once, at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from factories.capacity.floor import Shortfall
from factories.models import Factory, id_of
from factories.telemetry.messages import Reading
from factories.telemetry.models import DOWN_STATES, Machine, Observation
from factories.telemetry.rule import down_since_after
from factories.telemetry.store import (
    MachineRow,
    ObservationKey,
    lock_machines,
    recorded,
    write_batch,
)
from factories.telemetry.sums import contributions, set_groups, weeks_of


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
    # Already recorded for that machine, instant and content: taken once, before.
    duplicate: int = 0
    # Machines no longer registered (removed since the message was matched to them).
    missing: list[int] = field(default_factory=list)
    # Per factory id, the cells that machines would have taken below the booked hours.
    shortfalls: dict[int, list[Shortfall]] = field(default_factory=dict)
    factories: dict[int, Factory] = field(default_factory=dict)


def _contribution_key(machine: MachineRow) -> tuple[object, ...]:
    """What a machine's contributions depend on besides its nominal hours and the day."""
    return (machine.state in DOWN_STATES, machine.down_since, machine.forecast or {})


def _may_change(machine: MachineRow, reading: Reading) -> bool:
    """Whether `reading` can change the machine's contributions: most reports repeat the
    state of the last one, and the rule need not be worked out again for them."""
    if reading.available_hours:
        return True
    return (reading.state in DOWN_STATES) != (machine.state in DOWN_STATES)


def _apply(machine: MachineRow, reading: Reading) -> None:
    machine.down_since = down_since_after(
        machine.state, machine.down_since, reading.state, reading.at
    )
    machine.state = reading.state.value
    machine.observed_at = reading.at
    if reading.available_hours:
        machine.forecast = {k: str(v) for k, v in reading.available_hours.items()}
    if reading.utilization is not None:
        machine.utilization = reading.utilization


def _changes(machine: MachineRow, reading: Reading, today: date) -> dict[str, list[str]]:
    """Apply `reading` to `machine`; its contribution per week before and after, where
    they differ."""
    if not _may_change(machine, reading):
        _apply(machine, reading)
        return {}
    key = _contribution_key(machine)
    before = contributions(machine, weeks_of(machine, today))
    _apply(machine, reading)
    if _contribution_key(machine) == key:
        return {}
    after = contributions(machine, weeks_of(machine, today))
    return {w: [before.get(w, ""), hours] for w, hours in after.items() if before.get(w) != hours}


def observe_batch(
    session: Session, items: Sequence[Item], today: date, now: datetime
) -> BatchOutcome:
    """Record and apply `items` in the order given; the weeks of every process whose
    contributions changed are set once, at the end."""
    outcome = BatchOutcome()
    if not items:
        return outcome
    machines = lock_machines(session, {item.machine_pk for item in items})
    keys: list[ObservationKey] = [
        (item.machine_pk, item.reading.at, item.reading.digest()) for item in items
    ]
    # Only a report not newer than its machine's newest applied one can have been
    # recorded already; newer ones are new by construction.
    seen = recorded(
        session,
        {
            (machine_pk, at, digest)
            for machine_pk, at, digest in keys
            if (m := machines.get(machine_pk)) is not None
            and m.observed_at is not None
            and at <= m.observed_at
        },
    )
    touched: dict[int, MachineRow] = {}
    changed: set[tuple[int, str]] = set()
    rows = []
    for item, key in zip(items, keys, strict=True):
        machine = machines.get(item.machine_pk)
        if machine is None:
            outcome.missing.append(item.machine_pk)
            continue
        touched[item.machine_pk] = machine
        machine.last_seen_at = max(machine.last_seen_at or item.received_at, item.received_at)
        reading = item.reading
        _, _, digest = key
        if key in seen:
            outcome.duplicate += 1
            continue
        seen.add(key)
        # A report at the instant of the newest applied one is not older than it: applied
        # after it, as reports of one batch are in the order given.
        applied = machine.observed_at is None or reading.at >= machine.observed_at
        changes: dict[str, list[str]] = {}
        if applied:
            changes = _changes(machine, reading, today)
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
                "digest": digest,
                "applied": applied,
                "changes": changes,
            }
        )
    write_batch(session, list(touched.values()), rows)
    summed = set_groups(session, changed, today, now)
    outcome.shortfalls, outcome.factories = summed.shortfalls, summed.factories
    return outcome


def recompute_process(
    session: Session, factory: Factory, process: str, today: date, now: datetime
) -> list[Shortfall]:
    """Set a process's weeks from its machines again (after a registration or a
    removal)."""
    found = set_groups(session, {(id_of(factory), process)}, today, now)
    return found.shortfalls.get(id_of(factory), [])


def recompute_all(session: Session, today: date, now: datetime) -> dict[int, list[Shortfall]]:
    """Every process fed by machines, set again: the worker does this when it starts and
    when a new week begins, so that the newest week of the calendar follows too."""
    groups = set(session.exec(select(Machine.factory_id, Machine.process_code)).all())
    return set_groups(session, groups, today, now).shortfalls


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
