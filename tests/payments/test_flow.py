"""The buyer pays before production starts, the money is held, each factory is paid its
share less the fee on delivery, and the buyer gets back what a cancellation or a dispute
gives back: through the pages, on the simulated gateway."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from factories.models import CapacityBucket, utcnow
from marketplace.orders.models import Notification, Order, OrderState
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments import charges
from marketplace.payments.books import books_of_orders
from marketplace.payments.gateways.base import CARD_DECLINED, CARD_SUCCEEDS
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.models import Payment, PaymentState, Payout, PayoutState, Refund
from marketplace.payments.money import fee_minor
from marketplace.payments.settings import PaymentSettings
from tests.orders.conftest import pay_order, principal
from tests.payments.helpers import accepted_order, onboard, payments_sweep, ship, work_off


def euros(minor: int) -> str:
    return f"€{minor / 100:,.2f}"


def total_of(db_session, order) -> int:
    return sum(accepted_shares(db_session, order.id).values())


def state_of(db_session, order_id):
    db_session.expire_all()
    return db_session.get_one(Order, order_id).state


def booked_hours(db_session, shop):
    db_session.expire_all()
    return sum(
        b.booked_hours
        for b in db_session.exec(select(CapacityBucket).where(CapacityBucket.factory_id == shop.id))
    )


def test_every_hour_accepted_asks_the_buyer_to_pay_the_accepted_total(
    browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    total = total_of(db_session, order)
    assert total > 0
    browser.login(order.buyer)
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "awaiting payment" in page
    assert f"Pay {euros(total)}" in page
    assert "Simulated payments: no real money moves." in page
    notes = db_session.exec(
        select(Notification).where(Notification.kind == "order.awaiting_payment")
    ).all()
    assert len(notes) == 1 and notes[0].params["price_minor"] == total

    pay_page = browser.get(f"/orders/{order.id}/pay")
    assert pay_page.status_code == 200
    assert "Simulated payments" in pay_page.get_data(as_text=True)
    response = browser.form(f"/orders/{order.id}/pay", {"payment_method": CARD_SUCCEEDS})
    assert response.status_code == 303
    work_off(db_session, dispatcher, database)

    assert state_of(db_session, order.id) == OrderState.CONFIRMED
    [payment] = db_session.exec(select(Payment).where(Payment.order_id == order.id)).all()
    assert payment.state == PaymentState.CAPTURED and payment.amount_minor == total
    assert payment.idempotency_key == f"order:{order.id}:payment:1:v1"
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "confirmed" in page and euros(total) in page and "Pay €" not in page
    assert books_of_orders(db_session, [order.id])[order.id].held == total


def test_a_declined_card_charges_nothing_and_the_buyer_tries_again(
    browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    pay_order(db_session, dispatcher, database, order.buyer, order.id, CARD_DECLINED)
    assert state_of(db_session, order.id) == OrderState.AWAITING_PAYMENT
    [declined] = db_session.exec(select(Payment).where(Payment.order_id == order.id)).all()
    assert declined.state == PaymentState.FAILED and "declined" in declined.failure
    assert db_session.exec(
        select(Notification).where(Notification.kind == "payment.failed")
    ).first()
    browser.login(order.buyer)
    total = total_of(db_session, order)
    assert f"Pay {euros(total)}" in browser.get(f"/orders/{order.id}").get_data(as_text=True)

    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    assert state_of(db_session, order.id) == OrderState.CONFIRMED
    payments = db_session.exec(
        select(Payment).where(Payment.order_id == order.id).order_by(col(Payment.attempt))
    ).all()
    assert [p.state for p in payments] == [PaymentState.FAILED, PaymentState.CAPTURED]
    assert books_of_orders(db_session, [order.id])[order.id].captured == total


def test_the_buyer_is_never_charged_twice(
    browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    browser.login(order.buyer)
    first = browser.api(
        "POST", f"/api/v1/orders/{order.id}/payment", json={"payment_method": CARD_SUCCEEDS}
    )
    assert first.status_code == 202, first.get_json()
    # Paid again before the gateway answered: refused, nothing written.
    second = browser.api(
        "POST", f"/api/v1/orders/{order.id}/payment", json={"payment_method": CARD_SUCCEEDS}
    )
    assert second.status_code == 409 and "already being paid" in second.get_json()["message"]
    work_off(db_session, dispatcher, database)
    # And once paid, the order no longer waits for a payment.
    third = browser.api(
        "POST", f"/api/v1/orders/{order.id}/payment", json={"payment_method": CARD_SUCCEEDS}
    )
    assert third.status_code == 409 and "not waiting for payment" in third.get_json()["message"]
    captured = db_session.exec(
        select(Payment).where(Payment.order_id == order.id, Payment.state == "captured")
    ).all()
    assert len(captured) == 1


def test_a_payment_method_that_is_not_one_is_refused_by_name(browser, db_session, two_shop_order):
    order = two_shop_order
    browser.login(order.buyer)
    response = browser.api(
        "POST", f"/api/v1/orders/{order.id}/payment", json={"payment_method": "4242 4242"}
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "payment_method"
    page = browser.form(f"/orders/{order.id}/pay", {"payment_method": "card number"})
    assert page.status_code == 400 and "must be a payment method id" in page.get_data(as_text=True)
    assert not db_session.exec(select(Payment)).all()


def test_unpaid_at_the_deadline_the_hours_go_back_and_the_order_opens_again(
    db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40, rate_minor=5000)
    order = accepted_order(db_session, dispatcher, database, buyer, shop)
    assert booked_hours(db_session, shop) == 30
    db_session.get_one(Order, order.id).payment_requested_at = utcnow() - timedelta(hours=73)
    db_session.commit()
    result = payments_sweep(dispatcher, database)
    assert result["unpaid_orders"] == 1
    assert state_of(db_session, order.id) == OrderState.OPEN
    assert booked_hours(db_session, shop) == 0
    kinds = {n.kind for n in db_session.exec(select(Notification))}
    assert {"order.unpaid", "order.payment_expired"} <= kinds


def test_a_payment_that_succeeds_after_the_deadline_is_given_back_in_full(
    db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40, rate_minor=5000)
    order = accepted_order(db_session, dispatcher, database, buyer, shop)
    charges.pay(
        db_session,
        principal(db_session, buyer),
        order.id,
        CARD_SUCCEEDS,
        gateway=SimulatedGateway(database),
        settings=PaymentSettings.from_mapping({}),
        now=utcnow(),
    )
    db_session.commit()
    # The deadline passes while the payment is with the gateway: the order keeps waiting.
    db_session.get_one(Order, order.id).payment_requested_at = utcnow() - timedelta(hours=73)
    db_session.commit()
    result = payments_sweep(dispatcher, database)
    assert result["unpaid_orders"] == 0
    work_off(db_session, dispatcher, database)
    assert state_of(db_session, order.id) == OrderState.CONFIRMED


def test_cancelling_a_paid_order_before_production_refunds_it_all_and_frees_the_hours(
    browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    total = total_of(db_session, order)
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    browser.login(order.buyer)
    response = browser.form(f"/orders/{order.id}/cancel", {})
    assert response.status_code in (302, 303)
    work_off(db_session, dispatcher, database)
    assert state_of(db_session, order.id) == OrderState.CANCELLED
    [refund] = db_session.exec(select(Refund).where(Refund.order_id == order.id)).all()
    assert refund.amount_minor == total and refund.state == "succeeded"
    assert all(booked_hours(db_session, s) == 0 for s in order.shops)
    books = books_of_orders(db_session, [order.id])[order.id]
    assert (books.captured, books.refunded, books.held) == (total, total, 0)
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "refunded" in page


def test_delivery_pays_each_factory_its_share_less_the_fee(
    browser, new_browser, db_session, two_shop_order, dispatcher, database, tmp_path
):
    order = two_shop_order
    shares = accepted_shares(db_session, order.id)
    onboard(new_browser, db_session, dispatcher, database, order.shops[0])
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    ship(db_session, order, tmp_path)
    browser.login(order.buyer)
    browser.form(f"/orders/{order.id}/deliver", {})
    work_off(db_session, dispatcher, database)
    assert state_of(db_session, order.id) == OrderState.DELIVERED

    payouts = {
        p.factory_id: p for p in db_session.exec(select(Payout).where(Payout.order_id == order.id))
    }
    ready, waiting = order.shops
    sent = payouts[ready.id]
    assert sent.state == PayoutState.SENT and sent.transfer_id
    assert sent.fee_minor == fee_minor(shares[ready.id], 500)
    assert sent.amount_minor == shares[ready.id] - sent.fee_minor
    assert sent.idempotency_key == f"order:{order.id}:factory:{ready.id}:transfer:v1"
    # The other factory set up no payout account: it is owed, and it waits, visibly.
    assert payouts[waiting.id].state == PayoutState.WAITING
    factory_page = new_browser()
    factory_page.login(waiting.owner)
    page = factory_page.get("/payouts").get_data(as_text=True)
    assert "owed: waiting for the payout account" in page and "Set up payouts" in page

    # It sets one up: the payout goes out.
    onboard(new_browser, db_session, dispatcher, database, waiting)
    db_session.expire_all()
    late = db_session.get_one(Payout, payouts[waiting.id].id)
    assert late.state == PayoutState.SENT
    books = books_of_orders(db_session, [order.id])[order.id]
    assert books.held == 0 and books.fees == sent.fee_minor + late.fee_minor
    assert books.transferred + books.fees == sum(shares.values())

    # Each factory sees its own payout on the order, never the other's.
    page = factory_page.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Your payout" in page
    assert euros(payouts[ready.id].amount_minor) not in page
    assert euros(late.amount_minor) in page
