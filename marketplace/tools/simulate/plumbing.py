"""What every step of the simulation works with: a unit of work whose committed work goes
to the simulation's dispatcher, tried again on deadlocks, and the phases' timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import exc
from sqlmodel import Session

from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.db import Database
from marketplace.orders import outbox

T = TypeVar("T")
RETRYABLE = (exc.OperationalError,)  # deadlocks and serialization failures: try again


class SimulationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Plumbing:
    def __init__(self, database: Database, dispatcher: outbox.Dispatcher) -> None:
        self.database = database
        self.dispatcher = dispatcher
        self.retries = 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with self.database.session() as session:
            outbox.use_dispatcher(session, self.dispatcher)
            yield session

    def with_retries(self, step: Callable[[Session], T]) -> T:
        for attempt in range(5):
            try:
                with self.unit_of_work() as session:
                    return step(session)
            except RETRYABLE:
                self.retries += 1
                time.sleep(0.05 * (attempt + 1))
        with self.unit_of_work() as session:
            return step(session)

    def timed(self, name: str, step: Callable[[], object]) -> None:
        started = time.perf_counter()
        step()
        self.timings[name] = round(time.perf_counter() - started, 2)


def owner(organization_id: int) -> Principal:
    """The simulation acting as a factory's owner."""
    return Principal(
        organization_id=organization_id,
        organization_kind=OrganizationKind.FACTORY,
        role=Role.FACTORY_OWNER,
    )


def buyer(organization_id: int) -> Principal:
    """The simulation acting as a buyer."""
    return Principal(
        organization_id=organization_id,
        organization_kind=OrganizationKind.BUYER,
        role=Role.BUYER_MEMBER,
    )
