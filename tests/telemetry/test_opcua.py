"""OPC UA ingestion against a real asyncua server started by the test: its
MachineryItemState node changes, and each change becomes an applied observation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from asyncua import ua
from sqlmodel import Session, select

from factories.capacity.weeks import monday_of, week_label
from factories.models import id_of, utcnow
from factories.telemetry.ingest import Ingestor
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.models import Machine, Observation
from factories.telemetry.opcua import OpcUaMachine
from factories.telemetry.worker import Worker
from marketplace.db import Database
from marketplace.telemetry.service import tell_shortfalls
from tests.conftest import savepoint_sessions
from tests.factories.conftest import capability_details
from tests.telemetry.conftest import bucket, wait_until

pytestmark = pytest.mark.postgres

SHARED = threading.Lock()


def test_state_changes_on_an_opc_ua_server_become_observations(
    engine, connection, db_session, make_factory, opc_server
):
    now = utcnow()
    factory = make_factory(
        capabilities=[capability_details("milling_5axis")], today=now.date(), now=now
    )
    details = MachineDetails(
        "M-07",
        "milling_5axis",
        "40",
        opc_server.endpoint,
        opc_server.state_id,
        opc_server.hours_id,
    )
    machine, _ = register_machine(db_session, factory, details, now.date(), now)
    db_session.flush()
    watched = OpcUaMachine(
        id_of(machine), opc_server.endpoint, details.opcua_state_node, details.opcua_hours_node
    )
    this_week = week_label(monday_of(now.date()))
    database = Database(engine, savepoint_sessions(connection))

    # The worker and this test share one connection: never both at once.
    @contextmanager
    def sessions() -> Iterator[Session]:
        with SHARED, database.session() as session:
            yield session

    worker = Worker(Ingestor(sessions, tell_shortfalls), None, lambda: [watched])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, kwargs={"stop": stop})
    thread.start()
    try:
        # The first values arrive with the subscription.
        wait_until(lambda: _states(db_session, machine) == ["Executing"], timeout=30)
        opc_server.write("state", "OutOfService")
        wait_until(lambda: _states(db_session, machine)[-1:] == ["OutOfService"])
        opc_server.write("hours", 30.0, ua.VariantType.Double)
        wait_until(lambda: _forecasts(db_session, machine)[-1:] == [{this_week: "30.00"}])
        opc_server.write("state", "Exploded")
        wait_until(lambda: worker.stats.rejected["bad_state"] == 1)
        opc_server.write("state", "Executing")
        wait_until(lambda: _states(db_session, machine)[-1:] == ["Executing"])
    finally:
        stop.set()
        thread.join(20)
    assert _states(db_session, machine) == ["Executing", "OutOfService", "Executing"]
    stored = db_session.get(Machine, machine.id)
    assert stored.state == "Executing" and stored.last_seen_at is not None
    cell = bucket(db_session, factory, "milling_5axis", monday_of(now.date()))
    assert cell.maximum_hours == Decimal(30)


def _kept(session, machine) -> list[Observation]:  # type: ignore[no-untyped-def]
    """What the machine said so far (on the worker's connection, while it is not using it)."""
    with SHARED:
        session.expire_all()
        return list(
            session.exec(
                select(Observation)
                .where(Observation.machine_id == machine.id, Observation.source == "opcua")
                .order_by(Observation.id)
            ).all()
        )


def _states(session, machine) -> list[str]:  # type: ignore[no-untyped-def]
    """The states it went through, each once in a row."""
    states: list[str] = []
    for o in _kept(session, machine):
        if not states or states[-1] != o.state:
            states.append(o.state)
    return states


def _forecasts(session, machine) -> list[dict]:  # type: ignore[no-untyped-def]
    return [o.available_hours for o in _kept(session, machine)]
