"""Actions that cannot be undone ask first, in a real browser, under the strict CSP."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlmodel import select

from factories.capacity.weeks import monday_of
from marketplace.accounts.models import Membership, User
from marketplace.orders.models import Order, OrderState
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def test_cancelling_an_order_asks_first_and_no_means_no(page, live_server, live_database):
    email, password = demo_logins()["buyer_member"]
    with live_database.session() as session:
        seed_marketplace(
            session, DemoSpec(factories=10, orders=20, start=monday_of(datetime.now(UTC).date()))
        )
        buyer = session.exec(select(User).where(User.email == email)).one()
        membership = session.exec(select(Membership).where(Membership.user_id == buyer.id)).one()
        order_id, state = session.exec(
            select(Order.id, Order.state)
            .where(
                Order.buyer_organization_id == membership.organization_id,
                Order.state.in_([OrderState.DRAFT, OrderState.OPEN]),
            )
            .order_by(Order.id)
        ).first() or (None, None)
    assert order_id is not None, "the demo gives its buyer an order to cancel"

    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/home")
    page.goto(f"{live_server}/orders/{order_id}")

    questions: list[str] = []

    def answer_no(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer_no)
    page.get_by_role("button", name="Cancel order").click()
    expect(page.get_by_role("button", name="Cancel order")).to_be_visible()
    assert questions and "Cancel this order?" in questions[0]
    with live_database.session() as session:
        assert session.get(Order, order_id).state == state

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Cancel order").click()
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    with live_database.session() as session:
        assert session.get(Order, order_id).state == OrderState.CANCELLED
