"""Item 2, eligibility: the database decides which capacity lines may take a line, and
the problem built from it follows the matching contract v1."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import matching
from factories.capacity.weeks import monday_of, week_label
from factories.fit import distance_km, lead_weeks
from factories.models import FactoryStatus, utcnow
from marketplace.orders.posting.service import create_order
from marketplace.orders.runs.problem import RESOURCE, build_problem, capacity_line_id
from tests.orders.conftest import MILAN, SHENZHEN, line, order_input, principal


@pytest.mark.parametrize(
    ("km", "weeks"), [(0, 0), (1, 1), (499, 1), (3500, 1), (3501, 2), (7000, 2), (8700, 3)]
)
def test_shipping_time_is_a_day_per_started_500_km_in_whole_weeks(km, weeks):
    assert lead_weeks(km) == weeks


def test_distance_is_great_circle():
    assert distance_km(48.78, 9.18, 45.46, 9.19) == pytest.approx(369, abs=2)  # Stuttgart-Milan
    assert distance_km(48.78, 9.18, *SHENZHEN) == pytest.approx(9140, rel=0.02)


def test_only_capable_verified_certified_factories_are_options(db_session, make_shop, buyer):
    """Every shop holds the certificate the line asks for unless the certificate is what
    it lacks: each refused shop differs from `fits` in exactly one respect, so each is
    refused by its own rule alone."""
    iso9001 = {"certifications": ("ISO9001",)}
    fits = make_shop("milling_3axis", **iso9001)
    five_axis = make_shop("milling_5axis", **iso9001)  # a specialization can do 3-axis work
    rotated = make_shop(envelope=(60, 250, 120), **iso9001)  # the part fits lying down
    far = make_shop(location=SHENZHEN, **iso9001)
    refused = {
        "material": make_shop(materials=("steel",), **iso9001),
        "envelope": make_shop(envelope=(150, 150, 150), **iso9001),
        "tolerance": make_shop(tolerance="ISO 2768-c", **iso9001),
        "pending": make_shop(status=FactoryStatus.PENDING, **iso9001),
        "suspended": make_shop(status=FactoryStatus.SUSPENDED, **iso9001),
        "expired certificate": make_shop(expired_certifications=("ISO9001",)),
        "another certificate": make_shop(certifications=("ISO14001",)),
        "no certificate": make_shop(),
        "currency": make_shop(currency="USD", **iso9001),
        "process": make_shop("turning", **iso9001),
        "batch": make_shop(**iso9001),
    }
    refused["batch"].capability.batch_min = 500
    # Below the minimum credit, and fit in every other way: an option the engine keeps
    # out of the plan (min_credit), so that it can tell the shop why.
    low_credit = make_shop(credit=0.4, **iso9001)
    db_session.commit()
    order = create_order(
        db_session,
        principal(db_session, buyer),
        order_input(line(certifications_required=["ISO9001"]), min_credit=0.5),
        submit=True,
    )
    built = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    assert matching.validate(built.problem) == []

    [job] = built.problem["jobs"]
    options = {o["factory"]: o for o in job["options"]}
    eligible = {
        capacity_line_id(fits.id, "milling_3axis"),
        capacity_line_id(five_axis.id, "milling_5axis"),
        capacity_line_id(rotated.id, "milling_3axis"),
        capacity_line_id(far.id, "milling_3axis"),
    }
    low_credit_line = capacity_line_id(low_credit.id, "milling_3axis")
    assert set(options) == eligible | {low_credit_line}, {
        name: capacity_line_id(s.id, s.capability.process_code) for name, s in refused.items()
    }
    assert set(built.candidates[job["id"]]) == eligible
    credits = {f["id"]: f["credit"] for f in built.problem["factories"]}
    assert credits[low_credit_line] == 0.4 < job["min_credit"]
    assert options[capacity_line_id(far.id, "milling_3axis")]["lead_periods"] == 3
    assert options[capacity_line_id(fits.id, "milling_3axis")]["lead_periods"] == 0
    assert options[capacity_line_id(fits.id, "milling_3axis")]["price"] == 20 * 6000
    assert job["resource"] == RESOURCE and job["min_credit"] == 0.5
    assert job["due_period"] == week_label(monday_of(order.due_date))


def test_free_capacity_is_maximum_minus_booked_per_week(db_session, make_shop, buyer):
    shop = make_shop(hours=[40, 40, 40, 40, 40, 40], booked=15)
    order = create_order(
        db_session, principal(db_session, buyer), order_input(line(), weeks=2), submit=True
    )
    built = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    [factory] = built.problem["factories"]
    assert factory["id"] == capacity_line_id(shop.id, "milling_3axis")
    # Periods run from this week to the due week: three weeks, 25 free hours each.
    monday = monday_of(utcnow().date())
    assert built.problem["periods"] == [week_label(monday + timedelta(weeks=i)) for i in range(3)]
    assert [(c["period"], c["hours"]) for c in factory["capacity"]] == [
        (p, 25.0) for p in built.problem["periods"]
    ]


def test_options_beyond_the_budget_are_left_out(db_session, make_shop, buyer):
    cheap = make_shop(rate_minor=5000)
    make_shop(rate_minor=9000)
    order = create_order(
        db_session,
        principal(db_session, buyer),
        order_input(line(hours=Decimal(10)), budget_minor=60_000),
        submit=True,
    )
    built = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    [job] = built.problem["jobs"]
    assert [o["factory"] for o in job["options"]] == [capacity_line_id(cheap.id, "milling_3axis")]


def test_a_line_nobody_can_make_is_a_job_without_options(db_session, make_shop, buyer):
    make_shop("turning")
    order = create_order(
        db_session,
        principal(db_session, buyer),
        order_input(line(), delivery_latitude=MILAN[0], delivery_longitude=MILAN[1]),
        submit=True,
    )
    built = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    assert built.problem["jobs"][0]["options"] == []
    assert matching.validate(built.problem) == []


def test_factories_below_the_minimum_credit_are_options_the_engine_keeps_out(
    db_session, make_shop, buyer
):
    """So that the engine can tell them why they did not get the work (lost work)."""
    sound = make_shop(credit=0.8, rate_minor=6000)
    shaky = make_shop(credit=0.4, rate_minor=3000)
    order = create_order(
        db_session, principal(db_session, buyer), order_input(line(), min_credit=0.5), submit=True
    )
    built = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    [job] = built.problem["jobs"]
    shaky_line = capacity_line_id(shaky.id, "milling_3axis")
    assert {o["factory"] for o in job["options"]} == {
        capacity_line_id(sound.id, "milling_3axis"),
        shaky_line,
    }
    assert job["min_credit"] == 0.5
    credits = {f["id"]: f["credit"] for f in built.problem["factories"]}
    assert credits[shaky_line] == 0.4
    # Only factories that meet the minimum count as eligible in the winners' explanation.
    assert set(built.candidates[job["id"]]) == {capacity_line_id(sound.id, "milling_3axis")}
    plan = matching.solve(matching.load_problem(built.problem), 2, 1, 0)
    assert {a.factory for a in plan.assignments} == {capacity_line_id(sound.id, "milling_3axis")}


def test_certificates_are_checked_for_each_process_of_one_due_date(db_session, make_shop, buyer):
    """Two lines due the same day, of different processes, each asking for a
    certificate: each line's certified shops are options (a certificate looked up for
    the first process must not stand for the second's shops)."""
    iso9001 = {"certifications": ("ISO9001",)}
    mill = make_shop("milling_3axis", **iso9001)
    lathe = make_shop("turning", **iso9001)
    uncertified_lathe = make_shop("turning")
    db_session.commit()
    order = create_order(
        db_session,
        principal(db_session, buyer),
        order_input(
            line(certifications_required=["ISO9001"]),
            line(process_code="turning", certifications_required=["ISO9001"]),
        ),
        submit=True,
    )
    built = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    options = [{o["factory"] for o in job["options"]} for job in built.problem["jobs"]]
    assert options == [
        {capacity_line_id(mill.id, "milling_3axis")},
        {capacity_line_id(lathe.id, "turning")},
    ]
    assert capacity_line_id(uncertified_lathe.id, "turning") not in options[1]
