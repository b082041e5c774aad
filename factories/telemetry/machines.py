"""Registering a factory's machines (docs/telemetry.md, "Machines"), and whether one has
gone silent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, col, select

from factories.capacity.calendar import factory_resources
from factories.capacity.floor import Shortfall
from factories.errors import N_, Problems
from factories.models import Factory, id_of, too_long
from factories.taxonomy import PROCESSES
from factories.telemetry.messages import MACHINE_ID_MAX, MAX_MACHINE_HOURS
from factories.telemetry.models import Machine
from factories.telemetry.service import recompute_process

SILENT_AFTER = timedelta(minutes=15)
# Characters a machine id cannot hold: it is one level of an MQTT topic.
TOPIC_CHARACTERS = frozenset("/+#")


@dataclass(frozen=True)
class MachineDetails:
    machine_id: str
    process_code: str
    nominal_hours: Decimal | str | float | None
    opcua_endpoint: str = ""
    opcua_state_node: str = ""
    opcua_hours_node: str = ""


def _hours(value: Decimal | str | float | None, problems: Problems) -> Decimal:
    try:
        hours = Decimal(str(value).strip()) if value is not None else None
    except InvalidOperation:
        hours = None
    if hours is None or not hours.is_finite() or not Decimal(0) <= hours <= MAX_MACHINE_HOURS:
        problems.add("nominal_hours", N_("must be between 0 and %(maximum)s hours", maximum=168))
        return Decimal(0)
    if hours != hours.quantize(Decimal("0.01")):
        problems.add("nominal_hours", N_("has more than two decimal places"))
    return hours.quantize(Decimal("0.01"))


def check_machine(
    session: Session, factory: Factory, details: MachineDetails
) -> tuple[MachineDetails, Decimal]:
    """The details cleaned up and the nominal hours; FactoryError naming every problem."""
    problems = Problems()
    name = details.machine_id.strip()
    if not name:
        problems.add("machine_id", N_("give the machine an id, e.g. M-07"))
    elif len(name) > MACHINE_ID_MAX:
        problems.add(
            "machine_id", N_("must be at most %(maximum)s characters", maximum=MACHINE_ID_MAX)
        )
    elif TOPIC_CHARACTERS & set(name) or not name.isprintable():
        problems.add("machine_id", N_("may not contain / + # or control characters"))
    elif session.exec(
        select(Machine.id).where(Machine.factory_id == factory.id, Machine.machine_id == name)
    ).first():
        problems.add("machine_id", N_("this factory already has a machine %(id)s", id=name))
    process = details.process_code.strip()
    if process not in PROCESSES:
        problems.add("process_code", N_("%(code)r is not a process code", code=process))
    elif process not in factory_resources(session, id_of(factory)):
        problems.add(
            "process_code",
            N_("%(process)s is not a capability of this factory; add it first", process=process),
        )
    hours = _hours(details.nominal_hours, problems)
    endpoint = details.opcua_endpoint.strip()
    state_node = details.opcua_state_node.strip()
    hours_node = details.opcua_hours_node.strip()
    if endpoint and not endpoint.startswith("opc.tcp://"):
        problems.add("opcua_endpoint", N_("an OPC UA endpoint starts with opc.tcp://"))
    if endpoint and not state_node:
        problems.add("opcua_state_node", N_("give the node id of the machine's state"))
    if (state_node or hours_node) and not endpoint:
        problems.add("opcua_endpoint", N_("node ids need the endpoint of their server"))
    for field, value in (
        ("opcua_endpoint", endpoint),
        ("opcua_state_node", state_node),
        ("opcua_hours_node", hours_node),
    ):
        if message := too_long(value, Machine, field):
            problems.add(field, message)
    problems.raise_if_any()
    return MachineDetails(name, process, hours, endpoint, state_node, hours_node), hours


def register_machine(
    session: Session, factory: Factory, details: MachineDetails, today: date, now: datetime
) -> tuple[Machine, list[Shortfall]]:
    """Register a machine; its process's weeks are from now on the sum of its machines'
    (never below the booked hours: the cells that would be come back as shortfalls)."""
    clean, hours = check_machine(session, factory, details)
    machine = Machine(
        factory_id=id_of(factory),
        machine_id=clean.machine_id,
        process_code=clean.process_code,
        nominal_hours=hours,
        opcua_endpoint=clean.opcua_endpoint,
        opcua_state_node=clean.opcua_state_node,
        opcua_hours_node=clean.opcua_hours_node,
    )
    session.add(machine)
    session.flush()
    return machine, recompute_process(session, factory, clean.process_code, today, now)


def remove_machine(
    session: Session, factory: Factory, machine: Machine, today: date, now: datetime
) -> list[Shortfall]:
    """Forget a machine and what it said; its process follows the machines left (with
    none left, the calendar is the owner's again, as it stands)."""
    process = machine.process_code
    session.delete(machine)
    session.flush()
    return recompute_process(session, factory, process, today, now)


def machines_of(session: Session, factory_id: int) -> list[Machine]:
    return list(
        session.exec(
            select(Machine)
            .where(Machine.factory_id == factory_id)
            .order_by(col(Machine.process_code), col(Machine.machine_id))
        ).all()
    )


def machine_of(session: Session, factory: Factory, machine_id: str) -> Machine | None:
    """A machine of `factory` by the factory's id for it."""
    return session.exec(
        select(Machine).where(Machine.factory_id == factory.id, Machine.machine_id == machine_id)
    ).first()


def is_silent(machine: Machine, now: datetime) -> bool:
    """Said nothing for SILENT_AFTER (or never): its last contribution stands."""
    return machine.last_seen_at is None or now - machine.last_seen_at > SILENT_AFTER


def machine_processes(session: Session, factory_id: int) -> set[str]:
    """The processes of a factory whose hours come from machines."""
    return set(
        session.exec(select(Machine.process_code).where(Machine.factory_id == factory_id)).all()
    )
