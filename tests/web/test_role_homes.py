"""Each role lands on its own home after signing in, showing what needs it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from factories.capacity.weeks import monday_of
from factories.models import CapacityBucket, Factory, FactoryStatus, utcnow
from marketplace.accounts.models import Membership, User
from marketplace.orders.models import (
    Dispute,
    DisputeState,
    Order,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
)
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from marketplace.web.labels import money


@pytest.fixture
def demo(db_session):
    seed_marketplace(
        db_session, DemoSpec(factories=12, orders=40, start=monday_of(datetime.now(UTC).date()))
    )
    db_session.commit()
    return demo_logins()


def sign_in(client, email: str, password: str):
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def organization_of(db_session, email: str) -> int:
    user = db_session.exec(select(User).where(User.email == email)).one()
    return (
        db_session.exec(select(Membership).where(Membership.user_id == user.id))
        .one()
        .organization_id
    )


def section(page: str, anchor: str) -> str:
    return page.split(f'id="{anchor}"')[1].split("</section>")[0]


def test_the_buyer_lands_on_what_needs_paying_confirming_and_rating(client, db_session, demo):
    email, password = demo["buyer_member"]
    response = sign_in(client, email, password)
    assert response.headers["Location"] == "/home"
    page = client.get("/home").get_data(as_text=True)
    mine = section(page, "buyer-attention")
    organization = organization_of(db_session, email)
    orders = db_session.exec(select(Order).where(Order.buyer_organization_id == organization)).all()
    to_pay = [o for o in orders if o.state == OrderState.AWAITING_PAYMENT]
    assert to_pay, "the demo leaves its buyer an order to pay"
    for order in to_pay:
        assert f"/orders/{order.id}" in mine and order.title in mine
        total = sum(accepted_shares(db_session, order.id).values())
        with client.application.test_request_context():
            assert money(total, order.currency) in mine
    # Nothing of another buyer's orders.
    others = db_session.exec(select(Order).where(Order.buyer_organization_id != organization)).all()
    assert not any(f'href="/orders/{o.id}"' in mine for o in others)


def test_the_factory_lands_on_its_pending_proposals_by_deadline(client, db_session, demo):
    email, password = demo["factory_owner"]
    sign_in(client, email, password)
    page = client.get("/home").get_data(as_text=True)
    mine = section(page, "factory-attention")
    organization = organization_of(db_session, email)
    pending = db_session.exec(
        select(Proposal)
        .join(Factory, Factory.id == Proposal.factory_id)
        .join(Order, Order.id == Proposal.order_id)
        .where(Factory.organization_id == organization, Proposal.state == ProposalState.PENDING)
        .order_by(Proposal.expires_at, Order.due_date, Proposal.id)
    ).all()
    assert pending, "the demo leaves its factory owner proposals to answer"
    links = [f"/proposals/{p.id}" for p in pending][:20]
    positions = [mine.index(link) for link in links]
    assert positions == sorted(positions), "soonest deadline first, then the soonest due date"
    foreign = db_session.exec(
        select(Proposal)
        .join(Factory, Factory.id == Proposal.factory_id)
        .where(Factory.organization_id != organization)
    ).all()
    assert not any(f'href="/proposals/{p.id}"' in mine for p in foreign)
    assert "buyer-attention" not in page and "operator-attention" not in page


def test_the_operator_lands_on_verifications_disputes_and_orders_at_risk(client, db_session, demo):
    email, password = demo["operator"]
    sign_in(client, email, password)
    page = client.get("/home").get_data(as_text=True)
    mine = section(page, "operator-attention")
    for factory in db_session.exec(
        select(Factory).where(Factory.status == FactoryStatus.PENDING)
    ).all()[:20]:
        assert f"/supply/factories/{factory.id}" in mine
    disputes = db_session.exec(select(Dispute).where(Dispute.state == DisputeState.OPEN)).all()
    assert disputes, "the demo has an open dispute"
    for dispute in disputes:
        assert f"/orders/{dispute.order_id}" in mine


def test_home_is_for_people_who_are_signed_in(client):
    response = client.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_operator_is_offered_a_re_plan_of_work_machines_put_at_risk(client, db_session, demo):
    proposal, bucket = db_session.exec(
        select(Proposal, CapacityBucket)
        .join(ProposalSlot, ProposalSlot.proposal_id == Proposal.id)
        .join(CapacityBucket, CapacityBucket.id == ProposalSlot.bucket_id)
        .where(Proposal.state == ProposalState.ACCEPTED)
        .order_by(Proposal.id)
    ).first()
    # What the observation service does when machines report less than is booked.
    proposal.at_risk_at = utcnow()
    db_session.add(proposal)
    db_session.commit()
    email, password = demo["operator"]
    sign_in(client, email, password)
    page = client.get("/home").get_data(as_text=True)
    table = page.split('id="machines-at-risk"')[1].split("</table>")[0]
    week = bucket.point_in_time.strftime("%G-W%V")
    link = f"/operator/whatif?factory={proposal.factory_id}&amp;from_week={week}&amp;to_week={week}"
    assert f'href="/orders/{proposal.order_id}"' in table and link in table
    replan = client.get(link.replace("&amp;", "&"))
    assert replan.status_code == 200
