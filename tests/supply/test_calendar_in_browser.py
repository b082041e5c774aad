"""The capacity calendar in a real browser: htmx saves a cell in place, with the CSRF
header, and shows the refusal when the maximum would fall below the booked hours."""

from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import select

from factories.capacity.weeks import monday_of
from factories.models import CapacityBucket, Factory, utcnow
from marketplace.accounts.models import Membership, User
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DEMO_PASSWORD, DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def test_owner_edits_the_calendar_in_place(page, live_server, live_database):
    this_week = monday_of(utcnow().date())
    with live_database.session() as session:
        seed_marketplace(session, DemoSpec(factories=12, orders=0, start=this_week))
    email = demo_logins()["factory_owner"][0]
    with live_database.session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        org = session.exec(
            select(Membership.organization_id).where(Membership.user_id == user.id)
        ).one()
        factory = session.exec(select(Factory).where(Factory.organization_id == org)).one()
        bucket = session.exec(
            select(CapacityBucket)
            .where(
                CapacityBucket.factory_id == factory.id, CapacityBucket.point_in_time == this_week
            )
            .order_by(CapacityBucket.resource)
        ).first()
        session.execute(
            sa.update(CapacityBucket)
            .where(CapacityBucket.id == bucket.id)
            .values(maximum_hours=50, actual_hours=50, booked_hours=20)
        )
        other = session.exec(
            select(CapacityBucket)
            .where(
                CapacityBucket.factory_id == factory.id,
                CapacityBucket.resource == bucket.resource,
                CapacityBucket.point_in_time > this_week,
            )
            .order_by(CapacityBucket.point_in_time)
        ).first()

    page.goto(live_server + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/supply/factories/{factory.id}/capacity")
    page.wait_for_function("() => window.htmx !== undefined")

    cell = f"#cell-{other.resource}-{other.point_in_time.isoformat()}"
    with page.expect_response(lambda r: r.url.endswith("/capacity") and r.request.method == "POST"):
        page.fill(f"{cell} input", "77.5")
        page.dispatch_event(f"{cell} input", "change")
    page.wait_for_selector(f"{cell} .saved")
    with live_database.session() as session:
        assert session.get(CapacityBucket, other.id).maximum_hours == Decimal("77.50")

    below = f"#cell-{bucket.resource}-{this_week.isoformat()}"
    with page.expect_response(lambda r: r.url.endswith("/capacity") and r.request.method == "POST"):
        page.fill(f"{below} input", "5")
        page.dispatch_event(f"{below} input", "change")
    page.wait_for_selector(f"{below} .field-error")
    assert "15 h too little" in page.inner_text(f"{below} .field-error")
    with live_database.session() as session:
        assert session.get(CapacityBucket, bucket.id).maximum_hours == Decimal("50.00")


def test_capability_form_offers_only_the_materials_of_the_process(page, live_server, live_database):
    with live_database.session() as session:
        seed_marketplace(session, DemoSpec(factories=8, orders=0))
    email = demo_logins()["factory_owner"][0]
    with live_database.session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        org = session.exec(
            select(Membership.organization_id).where(Membership.user_id == user.id)
        ).one()
        factory = session.exec(select(Factory).where(Factory.organization_id == org)).one()
    page.goto(live_server + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/supply/factories/{factory.id}/capabilities/new")
    page.select_option("select[name=process_code]", "sls")
    assert page.is_hidden("input[name=materials][value=aluminium]")
    assert page.is_visible("input[name=materials][value=pa12]")
    page.select_option("select[name=process_code]", "turning")
    assert page.is_visible("input[name=materials][value=aluminium]")
