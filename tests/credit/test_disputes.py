"""A dispute in the ledger: opened per factory, resolved with who won by what was
refunded of each factory's share (all of it: the buyer won; nothing: the factory won;
some: partial), and the scores move accordingly; refunds and payouts are recorded."""

from __future__ import annotations

from sqlmodel import col, select

from factories import ledger
from factories.ledger import EventKind
from factories.models import Factory, LedgerEvent
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.credit import records
from marketplace.orders.production.disputes import open_dispute
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments import settlement
from marketplace.payments.settings import PaymentSettings
from tests.orders.conftest import pay_order, principal
from tests.payments.helpers import ship, work_off


def events_of(db_session, order_id, kind):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(
        db_session.exec(
            select(LedgerEvent)
            .where(LedgerEvent.order_id == order_id, LedgerEvent.kind == kind)
            .order_by(col(LedgerEvent.id))
        )
    )


def test_a_lost_dispute_lowers_the_score_and_a_won_one_does_not(
    db_session, two_shop_order, dispatcher, database, make_member, tmp_path
):
    order = two_shop_order
    first, second = order.shops
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    ship(db_session, order, tmp_path)
    before = {s.id: db_session.get_one(Factory, s.id).credit_score for s in order.shops}
    dispute = open_dispute(
        db_session,
        principal(db_session, order.buyer),
        order.id,
        "The first shop's parts are out of tolerance.",
        upload_folder=tmp_path,
    )
    db_session.commit()
    opened = events_of(db_session, order.id, EventKind.DISPUTE_OPENED)
    assert {e.factory_id for e in opened} == {first.id, second.id}
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    shares = accepted_shares(db_session, order.id)
    settlement.resolve_with_refunds(
        db_session,
        principal(db_session, operator),
        dispute.id,
        "All of the first shop's share back.",
        {first.id: shares[first.id]},
        currency="EUR",
        settings=PaymentSettings.from_mapping({}),
    )
    db_session.commit()
    work_off(db_session, dispatcher, database)
    resolved = {
        e.factory_id: e.payload for e in events_of(db_session, order.id, EventKind.DISPUTE_RESOLVED)
    }
    assert resolved[first.id]["outcome"] == "buyer_won"
    assert resolved[second.id]["outcome"] == "factory_won"
    assert resolved[first.id]["dispute_id"] == dispute.id
    after = {s.id: db_session.get_one(Factory, s.id).credit_score for s in order.shops}
    assert after[first.id] < before[first.id]
    assert after[second.id] >= before[second.id]
    [refund] = events_of(db_session, order.id, EventKind.REFUNDED)
    assert refund.factory_id == first.id and refund.payload["amount_minor"] == shares[first.id]
    assert refund.payload["reason"] == "dispute"
    assert ledger.verify(db_session).intact


def test_who_won_follows_the_refund():
    assert records.outcome_of(0, 10_000) == "factory_won"
    assert records.outcome_of(10_000, 10_000) == "buyer_won"
    assert records.outcome_of(1, 10_000) == "partial"
