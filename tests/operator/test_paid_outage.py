"""Applying an outage to paid work not yet in production, on Stripe (localstripe): the
lost factory's accepted work is withdrawn without counting against its credit, the work
is re-placed no dearer than the buyer paid, the payment stays held, the difference is
refunded once every hour is accepted again, the payouts follow the new factories, and
the books reconcile with the gateway."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from factories.capacity.weeks import monday_of, week_label
from factories.credit.score import Fact, contributions
from factories.errors import Conflict
from factories.ledger import EventKind
from factories.models import CapacityBucket, LedgerEvent, utcnow
from marketplace.orders.models import Order, OrderLine, OrderState, Proposal, ProposalState
from marketplace.orders.posting.service import create_order
from marketplace.orders.production.service import confirm_delivery
from marketplace.orders.proposals import service as proposals
from marketplace.orders.proposals.service import cancel_order
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.matching import execute_run
from marketplace.payments import charges
from marketplace.payments.books import books_of_orders, mismatches
from marketplace.payments.gateways.base import CARD_SUCCEEDS
from marketplace.payments.gateways.stripe import StripeGateway
from marketplace.payments.models import Payment, PaymentState, Payout, Refund
from marketplace.payments.money import payout_figures
from marketplace.payments.payouts import borne_by_platform
from marketplace.payments.settings import PaymentSettings
from tests.orders.conftest import line, order_input, principal
from tests.payments.conftest import stripe_app
from tests.payments.helpers import Accepted, ship, work_off
from tests.payments.stripe_servers import API_KEY, WEBHOOK_SECRET


@pytest.fixture
def app(settings, engine, connection, tmp_path, localstripe):  # type: ignore[no-untyped-def]
    return stripe_app(settings, engine, connection, tmp_path, localstripe.url)


@pytest.fixture
def database(app):  # type: ignore[no-untyped-def]
    return app.extensions["factoryweb.db"]


def run_queued(db_session, dispatcher, database):  # type: ignore[no-untyped-def]
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1)
    db_session.expire_all()


def paid_order(db_session, dispatcher, database, buyer, shop, localstripe):  # type: ignore[no-untyped-def]
    """30 hours all made by `shop`, accepted and paid on Stripe: confirmed."""
    who = principal(db_session, buyer)
    order = create_order(
        db_session, who, order_input(line(hours=Decimal(30)), weeks=3), submit=True
    )
    request_matching(db_session, who, order.id, 2)  # type: ignore[arg-type]
    run_queued(db_session, dispatcher, database)
    [proposal] = db_session.exec(select(Proposal).where(Proposal.order_id == order.id)).all()
    assert proposal.factory_id == shop.id
    proposals.accept(db_session, principal(db_session, shop.owner), proposal.id)  # type: ignore[arg-type]
    db_session.commit()
    charges.pay(
        db_session,
        who,
        order.id,  # type: ignore[arg-type]
        CARD_SUCCEEDS,
        gateway=StripeGateway(API_KEY, localstripe.url, WEBHOOK_SECRET),
        settings=PaymentSettings.from_mapping({}),
        now=utcnow(),
    )
    work_off(db_session, dispatcher, database)
    order = db_session.get_one(Order, order.id)
    assert order.state == OrderState.CONFIRMED
    return order, proposal


def apply_outage(app, factory_id: int, weeks: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    this_week = monday_of(utcnow().date())
    result = app.test_cli_runner().invoke(
        args=[
            "whatif",
            "--factory",
            str(factory_id),
            "--from-week",
            week_label(this_week),
            "--to-week",
            week_label(this_week + timedelta(weeks=weeks - 1)),
            "--apply",
            "--json",
            "--time-limit",
            "2",
            "--workers",
            "1",
        ]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def reconciles(app) -> None:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["differences"] == []


def test_paid_work_moves_to_a_cheaper_factory_and_the_difference_is_refunded(
    app, db_session, make_shop, buyer, dispatcher, database, localstripe, tmp_path
):
    lost = make_shop(hours=20, rate_minor=6000)
    order, withdrawn = paid_order(db_session, dispatcher, database, buyer, lost, localstripe)
    paid = 30 * 6000
    cheaper = make_shop(hours=40, rate_minor=5000)

    # The what-if shows the paid work saved, and changes nothing.
    preview = app.test_cli_runner().invoke(
        args=["whatif", "--factory", str(lost.id), "--json", "--time-limit", "2"]
    )
    answer = json.loads(preview.output)
    assert [o["order"] for o in answer["affected_orders"]] == [order.id]
    assert answer["unsaved_orders"] == [] and answer["fill_after"] == pytest.approx(1.0)
    db_session.expire_all()
    assert db_session.get_one(Order, order.id).state == OrderState.CONFIRMED

    # Moving paid work is the operator's: the buyer cannot match a confirmed order again.
    with pytest.raises(Conflict):
        request_matching(db_session, principal(db_session, buyer), order.id, 2)  # type: ignore[arg-type]
    db_session.rollback()

    # Only the first week goes offline; the work booked in later weeks is released too.
    applied = apply_outage(app, lost.id, weeks=1)["applied"]
    assert applied["paid_orders"] == [order.id] and applied["orders_to_handle"] == []
    assert applied["withdrawn_proposals"] == [withdrawn.id]
    db_session.expire_all()
    assert db_session.get_one(Proposal, withdrawn.id).state == ProposalState.WITHDRAWN
    assert db_session.get_one(Order, order.id).state == OrderState.MATCHING
    assert all(
        b.booked_hours == 0
        for b in db_session.exec(select(CapacityBucket).where(CapacityBucket.factory_id == lost.id))
    )
    [line_row] = db_session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    assert line_row.paid_price_minor == paid
    # The withdrawal is in the ledger, by the operator: nothing counts against the factory.
    [event] = db_session.exec(
        select(LedgerEvent).where(
            LedgerEvent.kind == EventKind.PROPOSAL_WITHDRAWN, LedgerEvent.factory_id == lost.id
        )
    ).all()
    assert event.payload["by"] == "operator" and event.payload["why"] == "outage"
    assert contributions(Fact(event.id, event.kind, 0, order.id, event.payload)) == []
    # The payment stays held; nothing is refunded yet.
    [payment] = db_session.exec(select(Payment).where(Payment.order_id == order.id)).all()
    assert payment.state == PaymentState.CAPTURED and payment.refunded_minor == 0

    run_queued(db_session, dispatcher, database)
    [offer] = db_session.exec(
        select(Proposal).where(
            Proposal.order_id == order.id, Proposal.state == ProposalState.PENDING
        )
    ).all()
    assert offer.factory_id == cheaper.id and offer.price_minor == 30 * 5000
    assert db_session.get_one(Order, order.id).state == OrderState.PROPOSED
    proposals.accept(db_session, principal(db_session, cheaper.owner), offer.id)  # type: ignore[arg-type]
    db_session.commit()
    db_session.expire_all()
    # Every hour accepted again: confirmed at once, the buyer is not asked to pay.
    order = db_session.get_one(Order, order.id)
    assert order.state == OrderState.CONFIRMED and order.payment_requested_at is None
    [refund] = db_session.exec(select(Refund).where(Refund.order_id == order.id)).all()
    assert refund.amount_minor == paid - 30 * 5000 and refund.reason == "replanned"
    assert refund.idempotency_key == f"order:{order.id}:replanned:1:refund:v1"
    work_off(db_session, dispatcher, database)
    assert db_session.get_one(Refund, refund.id).state == "succeeded"
    assert db_session.get_one(Refund, refund.id).gateway_refund_id.startswith("re_")
    reconciles(app)
    # The new factory's confirmation counts for it; the old one's is not recorded again.
    confirmed = db_session.exec(
        select(LedgerEvent.factory_id).where(
            LedgerEvent.kind == EventKind.ORDER_CONFIRMED, LedgerEvent.order_id == order.id
        )
    ).all()
    assert sorted(confirmed) == sorted([lost.id, cheaper.id])

    # Delivered: the payout follows the new factory; the books hold what it is owed.
    ship(db_session, Accepted(order, [cheaper], buyer), tmp_path)
    confirm_delivery(db_session, principal(db_session, buyer), order.id)  # type: ignore[arg-type]
    db_session.commit()
    [payout] = db_session.exec(select(Payout).where(Payout.order_id == order.id)).all()
    assert payout.factory_id == cheaper.id and payout.share_minor == 30 * 5000
    assert mismatches(db_session, [order.id]) == []  # type: ignore[list-item]
    books = books_of_orders(db_session, [order.id])[order.id]  # type: ignore[index]
    assert books.captured == paid and books.refunded == paid - 30 * 5000
    assert books.held == 30 * 5000  # owed to the factory until its account is ready


def test_paid_work_is_never_placed_dearer_and_stays_paid_until_cancelled(
    app, db_session, make_shop, buyer, dispatcher, database, localstripe
):
    lost = make_shop(hours=40, rate_minor=5000)
    order, _ = paid_order(db_session, dispatcher, database, buyer, lost, localstripe)
    make_shop(hours=40, rate_minor=9000)  # free, but dearer than what the buyer paid

    answer = apply_outage(app, lost.id, weeks=6)
    assert [o["order"] for o in answer["unsaved_orders"]] == [order.id]
    run_queued(db_session, dispatcher, database)
    assert not db_session.exec(
        select(Proposal).where(
            Proposal.order_id == order.id, Proposal.state == ProposalState.PENDING
        )
    ).all()
    order = db_session.get_one(Order, order.id)
    assert order.state == OrderState.OPEN  # unplaced, the payment held
    assert db_session.exec(select(Refund).where(Refund.order_id == order.id)).all() == []
    # The buyer cancels: all of it back, as for any paid order cancelled before production.
    cancel_order(db_session, principal(db_session, buyer), order.id)  # type: ignore[arg-type]
    work_off(db_session, dispatcher, database)
    [refund] = db_session.exec(select(Refund).where(Refund.order_id == order.id)).all()
    assert refund.amount_minor == 30 * 5000 and refund.state == "succeeded"
    assert mismatches(db_session, [order.id]) == []  # type: ignore[list-item]
    reconciles(app)


def test_a_rounding_excess_is_borne_out_of_the_platforms_fee():
    payment = Payment(
        order_id=1, gateway="stripe", amount_minor=10_000, currency="EUR", idempotency_key="k"
    )
    shares = {1: 6_001, 2: 4_001}  # re-placed work rounded up by 2 minor units
    borne = borne_by_platform(payment, shares, {}, 500)
    assert sum(borne.values()) == 2
    fees = {f: payout_figures(s, 0, 500).fee_minor - borne.get(f, 0) for f, s in shares.items()}
    transferred = {f: s - payout_figures(s, 0, 500).fee_minor for f, s in shares.items()}
    assert sum(fees.values()) + sum(transferred.values()) == payment.amount_minor
    assert borne_by_platform(payment, {1: 6_000, 2: 4_000}, {}, 500) == {}
