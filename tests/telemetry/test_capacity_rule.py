"""The observation service on PostgreSQL: machines' contributions summed into the
calendar through the calendar's own service, out-of-order reports, never below booked."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from factories.capacity.weeks import week_label
from factories.errors import FactoryError
from factories.models import id_of
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.messages import Reading
from factories.telemetry.models import MachineState, Observation
from factories.telemetry.rule import contribution
from factories.telemetry.service import Item, observe_batch
from marketplace.accounts.models import OrganizationKind
from marketplace.accounts.service import create_organization
from marketplace.orders.models import Notification, Proposal
from marketplace.orders.notify.texts import notification_text
from marketplace.telemetry.service import tell_shortfalls
from tests.telemetry.conftest import NOW, THIS_WEEK, TODAY, add_machine, book, bucket, week

pytestmark = pytest.mark.postgres


def observe(session, machine, state, at=NOW, hours=None, received=NOW):
    reading = Reading(at, MachineState(state), hours or {})
    return observe_batch(session, [Item(id_of(machine), reading, received)], TODAY, NOW)


def test_the_contribution_rule_of_the_contract():
    # Wednesday noon: 2.5 / 7 of 40 h.
    assert contribution(Decimal(40), {}, "OutOfService", NOW, THIS_WEEK) == Decimal("14.29")
    assert contribution(Decimal(40), {}, "OutOfService", NOW, week(1)) == Decimal(40)
    assert contribution(Decimal(40), {}, "Executing", None, THIS_WEEK) == Decimal(40)
    forecast = {week_label(week(1)): "12.5"}
    assert contribution(Decimal(40), forecast, "NotAvailable", NOW, week(1)) == Decimal("12.5")


def test_registering_machines_makes_their_process_the_sum_of_them(db_session, shop):
    add_machine(db_session, shop, "M-01", "30")
    add_machine(db_session, shop, "M-02", "25.5")
    for n in range(12):
        assert bucket(db_session, shop, "milling_5axis", week(n)).maximum_hours == Decimal("55.50")
    # A process without machines keeps the owner's calendar.
    assert bucket(db_session, shop, "turning", week(0)).maximum_hours == Decimal(40)


def test_registration_checks_every_field(db_session, shop):
    add_machine(db_session, shop, "M-01", "30")
    with pytest.raises(FactoryError) as caught:
        register_machine(
            db_session,
            shop,
            MachineDetails("M-01", "grinding", "200", "http://x", "", ""),
            TODAY,
            NOW,
        )
    fields = {f for f, _ in caught.value.problems}
    assert fields == {
        "machine_id",
        "process_code",
        "nominal_hours",
        "opcua_endpoint",
        "opcua_state_node",
    }


def test_out_of_service_takes_this_week_pro_rata_and_running_restores_it(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    add_machine(db_session, shop, "M-02", "40")
    outcome = observe(db_session, m1, "OutOfService")
    assert outcome.applied == 1
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == Decimal("54.29")
    assert bucket(db_session, shop, "milling_5axis", week(1)).maximum_hours == Decimal(80)
    kept = db_session.exec(select(Observation).where(Observation.machine_id == m1.id)).one()
    assert kept.applied and kept.changes == {week_label(week(0)): ["40.00", "14.29"]}
    # A second down report later the same week does not move when it went down.
    observe(db_session, m1, "NotAvailable", at=NOW + timedelta(hours=5))
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == Decimal("54.29")
    observe(db_session, m1, "Executing", at=NOW + timedelta(hours=6))
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == Decimal(80)


def test_a_forecast_replaces_nominal_hours_for_its_weeks(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    observe(db_session, m1, "Executing", hours={week_label(week(2)): Decimal("12.5")})
    assert bucket(db_session, shop, "milling_5axis", week(2)).maximum_hours == Decimal("12.50")
    assert bucket(db_session, shop, "milling_5axis", week(3)).maximum_hours == Decimal(40)


def test_an_older_report_is_recorded_but_not_applied(db_session, shop):
    m1 = add_machine(db_session, shop, "M-01", "40")
    observe(db_session, m1, "Executing", at=NOW)
    outcome = observe(db_session, m1, "OutOfService", at=NOW - timedelta(minutes=1))
    assert (outcome.applied, outcome.stale) == (0, 1)
    assert bucket(db_session, shop, "milling_5axis", week(0)).maximum_hours == Decimal(40)
    rows = db_session.exec(select(Observation).order_by(Observation.id)).all()
    assert [(r.state, r.applied) for r in rows] == [("Executing", True), ("OutOfService", False)]


def test_never_below_booked_and_the_work_there_is_at_risk(app, db_session, shop):
    operators = create_organization(db_session, OrganizationKind.OPERATOR, "Park operators", "DE")
    m1 = add_machine(db_session, shop, "M-01", "40")
    buyer, _order, proposal = book(db_session, shop, week(0), "30")
    outcome = observe(db_session, m1, "OutOfService")
    cell = bucket(db_session, shop, "milling_5axis", week(0))
    # 14.29 h wanted, 30 h booked: the maximum stays at the booked hours.
    assert cell.maximum_hours == Decimal(30) and cell.booked_hours == Decimal(30)
    (shortfall,) = outcome.shortfalls[id_of(shop)]
    assert shortfall.short_hours == Decimal("15.71")
    tell_shortfalls(db_session, shop, outcome.shortfalls[id_of(shop)], NOW)
    db_session.refresh(proposal)
    assert proposal.at_risk_at == NOW and proposal.state == "pending"
    told = db_session.exec(select(Notification).where(Notification.kind == "order.at_risk")).all()
    assert {n.organization_id for n in told} == {id_of(buyer), id_of(operators)}
    assert told[0].params["short_hours"] == "15.71"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        text = notification_text(told[0])
    assert text.startswith("“Brackets” is at risk: a machine of Keller Präzision reported 15.71 h")
    assert "5-axis" in text and week_label(week(0)) in text
    # Told once: the next report that is still short marks nothing again.
    again = observe(db_session, m1, "OutOfService", at=NOW + timedelta(minutes=1))
    assert tell_shortfalls(db_session, shop, again.shortfalls.get(id_of(shop), []), NOW) is None
    assert (
        len(db_session.exec(select(Notification).where(Notification.kind == "order.at_risk")).all())
        == 2
    )
    assert db_session.get(Proposal, proposal.id).at_risk_at == NOW
