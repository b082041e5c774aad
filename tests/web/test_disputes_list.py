"""The operator's list of disputes: open ones first, filtered by state, operators only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from factories.capacity.weeks import monday_of
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import Dispute, DisputeState
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def test_operators_see_every_open_dispute_and_others_are_kept_out(
    browser, new_browser, db_session, make_member
):
    seed_marketplace(
        db_session, DemoSpec(factories=12, orders=40, start=monday_of(datetime.now(UTC).date()))
    )
    db_session.commit()
    open_disputes = db_session.exec(select(Dispute).where(Dispute.state == DisputeState.OPEN)).all()
    assert open_disputes
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    page = browser.get("/disputes").get_data(as_text=True)
    table = page.split('id="disputes"')[1]
    for dispute in open_disputes:
        assert f'href="/orders/{dispute.order_id}#disputes"' in table
    assert 'href="/disputes"' in page  # in the operator's navigation
    resolved = browser.get("/disputes?state=resolved").get_data(as_text=True)
    assert "No dispute here." in resolved
    for kind, role in (
        (OrganizationKind.BUYER, Role.BUYER_MEMBER),
        (OrganizationKind.FACTORY, Role.FACTORY_OWNER),
    ):
        other = new_browser()
        other.login(make_member(kind, role))
        assert other.get("/disputes").status_code == 403
