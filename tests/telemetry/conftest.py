"""Fixtures of the telemetry tests: a factory with machines, a booked order on it, and
real brokers and servers started by the tests themselves."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from factories.capacity.booking import hold
from factories.capacity.weeks import monday_of
from factories.models import CapacityBucket, Factory, id_of
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.models import Machine
from marketplace.accounts.models import OrganizationKind
from marketplace.accounts.service import create_organization
from marketplace.orders.models import (
    MatchRun,
    Order,
    OrderLine,
    Proposal,
    ProposalSlot,
)
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
