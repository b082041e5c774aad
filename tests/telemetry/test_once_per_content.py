"""A report is taken once per machine, instant and content, on PostgreSQL and on SQLite:
the same message delivered again is a duplicate, while a different report at the same
instant is not older than the newest applied one and is applied (docs/telemetry.md,
"Timing rules for `at`")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from factories.capacity.weeks import week_label
from factories.models import id_of
from factories.telemetry.messages import Reading
from factories.telemetry.models import NO_DIGEST, Machine, MachineState, Observation
from factories.telemetry.service import Item, observe_batch
from marketplace.db import Database
from marketplace.migrate import upgrade
from tests.conftest import savepoint_sessions
from tests.telemetry.conftest import NOW, TODAY, add_machine, bucket, week

DOWN_THIS_WEEK = Decimal("14.29")


@pytest.fixture(
    params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"],
)
def db_session(request, tmp_path) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """The suite's PostgreSQL session, or one on a SQLite file migrated to head."""
    if request.param == "postgresql":
        session = savepoint_sessions(request.getfixturevalue("connection"))()
        yield session
        session.close()
        return
    url = f"sqlite:///{tmp_path / 'telemetry.db'}"
    upgrade(url)
    database = Database.from_url(url)
    session = database.session_factory()
    yield session
    session.close()
    database.engine.dispose()


def item(machine: Machine, state: MachineState, at=NOW, **content) -> Item:  # type: ignore[no-untyped-def]
    return Item(id_of(machine), Reading(at, state, **content), NOW)


def state_of(session: Session, machine: Machine) -> str | None:
    session.refresh(machine)
    return machine.state


def recorded_states(session: Session, machine: Machine) -> list[tuple[str, bool]]:
    rows = session.exec(
        select(Observation).where(Observation.machine_id == machine.id).order_by(Observation.id)
    ).all()
    return [(r.state, r.applied) for r in rows]


def test_the_same_report_delivered_again_is_recorded_and_applied_once(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    down = item(m1, MachineState.OUT_OF_SERVICE)
    first = observe_batch(db_session, [down, down], TODAY, NOW)
    assert (first.applied, first.duplicate) == (1, 1)
    # Again in a later batch, and an older report that was never recorded.
    older = item(m1, MachineState.EXECUTING, at=NOW - timedelta(minutes=1))
    later = observe_batch(db_session, [down, older], TODAY, NOW)
    assert (later.applied, later.stale, later.duplicate) == (0, 1, 1)
    assert sorted(recorded_states(db_session, m1)) == [
        ("Executing", False),
        ("OutOfService", True),
    ]
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == DOWN_THIS_WEEK


def test_a_different_report_at_the_same_instant_is_applied_and_its_copy_is_not(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    down = item(m1, MachineState.OUT_OF_SERVICE)
    observe_batch(db_session, [down], TODAY, NOW)
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == DOWN_THIS_WEEK
    # Not older than the newest applied report: applied, and the week is whole again.
    running = item(m1, MachineState.EXECUTING)
    outcome = observe_batch(db_session, [running], TODAY, NOW)
    assert (outcome.applied, outcome.stale, outcome.duplicate) == (1, 0, 0)
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == Decimal(40)
    assert state_of(db_session, m1) == "Executing"
    # Either message delivered again is the same report: taken once, changing nothing.
    again = observe_batch(db_session, [running, down], TODAY, NOW)
    assert (again.applied, again.stale, again.duplicate) == (0, 0, 2)
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == Decimal(40)
    assert recorded_states(db_session, m1) == [("OutOfService", True), ("Executing", True)]


def test_content_beyond_the_state_tells_reports_apart(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    forecast = {week_label(week(2)): Decimal("12.50")}
    reports = [
        item(m1, MachineState.EXECUTING),
        item(m1, MachineState.EXECUTING, utilization=0.5),
        item(m1, MachineState.EXECUTING, available_hours=forecast),
    ]
    outcome = observe_batch(db_session, [*reports, *reports], TODAY, NOW)
    assert (outcome.applied, outcome.duplicate) == (3, 3)
    assert bucket(db_session, shop, "milling_5axis", week(2)).maximum_hours == Decimal("12.50")


def test_different_reports_at_one_instant_in_one_batch_are_applied_in_order(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    running, down = item(m1, MachineState.EXECUTING), item(m1, MachineState.OUT_OF_SERVICE)
    outcome = observe_batch(db_session, [running, down, running], TODAY, NOW)
    assert (outcome.applied, outcome.stale, outcome.duplicate) == (2, 0, 1)
    assert recorded_states(db_session, m1) == [("Executing", True), ("OutOfService", True)]
    assert state_of(db_session, m1) == "OutOfService"
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == DOWN_THIS_WEEK


def test_a_report_recorded_before_digests_makes_its_redelivery_a_duplicate(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    down = item(m1, MachineState.OUT_OF_SERVICE)
    observe_batch(db_session, [down], TODAY, NOW)
    # As migration 0019 leaves the rows recorded before it.
    db_session.execute(
        sa.update(Observation).where(Observation.machine_id == m1.id).values(digest=NO_DIGEST)
    )
    again = observe_batch(db_session, [down], TODAY, NOW)
    assert (again.applied, again.duplicate) == (0, 1)
    assert recorded_states(db_session, m1) == [("OutOfService", True)]
