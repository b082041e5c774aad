"""OPC UA ingestion against a real asyncua server started by the test: its
MachineryItemState node changes, and each change becomes an applied observation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from asyncua import Server, ua
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
from tests.telemetry.conftest import bucket, free_port, wait_until

pytestmark = pytest.mark.postgres

SHARED = threading.Lock()


class MachineServer:
    """An OPC UA server on its own event loop and thread, with one machine's nodes."""

    def __init__(self, port: int) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.nodes: dict[str, Any] = {}
        self.state_id = self.hours_id = ""

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        self.server = Server()
        await self.server.init()
        self.server.set_endpoint(self.endpoint + "/")
        index = await self.server.register_namespace("urn:factoryweb:test:machines")
        machine = await self.server.nodes.objects.add_object(index, "M-07")
        state = await machine.add_variable(
            ua.NodeId("M-07.MachineryItemState", index),
            "MachineryItemState",
            "Executing",
            # A state by name or by its numeric value: either may be written.
            datatype=ua.NodeId(ua.ObjectIds.BaseDataType),
        )
        hours = await machine.add_variable(
            ua.NodeId("M-07.AvailableHours", index), "AvailableHours", 40.0
        )
        self.nodes = {"state": state, "hours": hours}
        self.state_id = state.nodeid.to_string()
        self.hours_id = hours.nodeid.to_string()
        await self.server.start()

    def write(self, name: str, value: Any, variant: ua.VariantType | None = None) -> None:
        node = self.nodes[name]
        # As the machine's own side would: straight into the address space, whatever
        # type the value had before.
        data = ua.DataValue(ua.Variant(value, variant) if variant else ua.Variant(value))
        self.call(self.server.write_attribute_value(node.nodeid, data))

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def opc_server() -> Iterator[MachineServer]:
    server = MachineServer(free_port())
    server.start()
    yield server
    server.stop()


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
