"""Fixtures of the telemetry tests: a factory with machines, a booked order on it, and
real brokers and servers started by the tests themselves."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from asyncua import Server, ua
from sqlmodel import Session, select

from factories.capacity.booking import hold
from factories.capacity.weeks import monday_of
from factories.models import Capability, CapacityBucket, Factory, id_of, utcnow
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.messages import topic_for
from factories.telemetry.models import Machine
from marketplace.accounts.models import OrganizationKind
from marketplace.accounts.service import create_organization
from marketplace.db import Database
from marketplace.migrate import scratch_database
from marketplace.orders.models import (
    MatchRun,
    Order,
    OrderLine,
    Proposal,
    ProposalSlot,
)
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.factories.conftest import capability_details, factory_org, make_factory

__all__ = ["factory_org", "make_factory"]

# A Wednesday noon: 2.5 of the week's 7 days have passed.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
THIS_WEEK = monday_of(TODAY)


def week(n: int) -> date:
    return THIS_WEEK + timedelta(weeks=n)


@pytest.fixture
def shop(make_factory) -> Factory:  # type: ignore[no-untyped-def]
    """A factory that mills (40 h a week published by hand) and turns."""
    return make_factory(
        capabilities=[capability_details("milling_5axis"), capability_details("turning")],
        weekly="40",
        today=TODAY,
        now=NOW,
    )


def add_machine(
    session: Session, factory: Factory, machine_id: str, hours: str, process: str = "milling_5axis"
) -> Machine:
    machine, _ = register_machine(
        session, factory, MachineDetails(machine_id, process, hours), TODAY, NOW
    )
    return machine


def bucket(session: Session, factory: Factory, process: str, monday: date) -> CapacityBucket:
    session.expire_all()
    return session.exec(
        select(CapacityBucket).where(
            CapacityBucket.factory_id == factory.id,
            CapacityBucket.resource == process,
            CapacityBucket.point_in_time == monday,
        )
    ).one()


def book(session: Session, factory: Factory, monday: date, hours: str, title: str = "Brackets"):
    """An order of a buyer with a proposal holding `hours` of milling in `monday`'s week."""
    buyer = create_organization(session, OrganizationKind.BUYER, f"Buyer of {title}", "DE")
    order = Order(
        buyer_organization_id=id_of(buyer),
        title=title,
        state="proposed",
        due_date=monday + timedelta(weeks=4),
        delivery_country="DE",
        delivery_latitude=48.1,
        delivery_longitude=11.6,
    )
    session.add(order)
    session.flush()
    line = OrderLine(
        order_id=id_of(order),
        line_no=1,
        process_code="milling_5axis",
        material="aluminium",
        quantity=10,
        hours=Decimal(hours),
    )
    run = MatchRun(state="succeeded")
    session.add_all([line, run])
    session.flush()
    proposal = Proposal(
        match_run_id=id_of(run),
        order_id=id_of(order),
        order_line_id=id_of(line),
        factory_id=id_of(factory),
        hours=Decimal(hours),
        price_minor=1000,
        expires_at=NOW + timedelta(days=2),
    )
    session.add(proposal)
    session.flush()
    cell = bucket(session, factory, "milling_5axis", monday)
    assert hold(session, id_of(cell), Decimal(hours))
    session.add(
        ProposalSlot(proposal_id=id_of(proposal), bucket_id=id_of(cell), hours=Decimal(hours))
    )
    session.flush()
    return buyer, order, proposal


# Real services started by the tests ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Until `condition()` holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def wait_for_port(port: int, up: bool = True, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not {'up' if up else 'down'}")


class Mosquitto:
    """A Mosquitto of the test's own on a loopback port, to stop and start at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        wait_for_port(self.port, up=False)


@pytest.fixture
def own_mosquitto() -> Iterator[Mosquitto]:
    if not (shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")):
        pytest.skip("mosquitto is not installed")
    broker = Mosquitto(free_port())
    broker.start()
    yield broker
    broker.stop()


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
        # type the value had before, stamped with when it changed.
        data = ua.DataValue(
            ua.Variant(value, variant) if variant else ua.Variant(value),
            SourceTimestamp=utcnow(),
        )
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


# Committed data, for workers in other threads and processes ------------------------------


@dataclass
class Fleet:
    """A database of its own where tests commit, with machines registered on a few
    factories of a demo cluster: `topics` maps each machine's row id to its topic."""

    url: str
    database: Database
    topics: dict[int, str]


@pytest.fixture(scope="session")
def fleet(database_url: str) -> Iterator[Fleet]:
    with scratch_database(database_url, "factoryweb_telemetry") as url:
        database = Database.from_url(url)
        now = utcnow()
        with database.session() as session:
            seed_marketplace(
                session, DemoSpec(factories=3, orders=0, weeks=12, logins=False, buyers=1)
            )
        topics = {}
        with database.session() as session:
            for factory in session.exec(select(Factory).order_by(Factory.id)).all():
                process = session.exec(
                    select(Capability.process_code)
                    .where(Capability.factory_id == factory.id)
                    .order_by(Capability.process_code)
                ).first()
                for n in range(3):
                    details = MachineDetails(f"M-{n + 1:02d}", process or "", "40")
                    machine, _ = register_machine(session, factory, details, now.date(), now)
                    topics[id_of(machine)] = topic_for(factory.global_id, machine.machine_id)
            session.commit()
        yield Fleet(url, database, topics)
        database.engine.dispose()
