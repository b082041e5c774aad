"""The Stripe gateway against localstripe on 127.0.0.1, with the official SDK: payments
taken at once, declined cards, refunds, reconciliation, and Stripe's signed webhooks,
applied once whatever their order."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import select

from marketplace.orders.models import Order, OrderState
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments.gateways.base import CARD_DECLINED, CARD_SUCCEEDS
from marketplace.payments.gateways.stripe import StripeGateway
from marketplace.payments.models import GatewayEvent, Payment, PaymentState, Refund
from tests.orders.conftest import pay_order
from tests.payments.conftest import stripe_app
from tests.payments.helpers import work_off
from tests.payments.stripe_servers import API_KEY, WEBHOOK_SECRET, signed


@pytest.fixture
def gateway(localstripe) -> StripeGateway:  # type: ignore[no-untyped-def]
    return StripeGateway(API_KEY, localstripe.url, WEBHOOK_SECRET)


@pytest.fixture
def app(settings, engine, connection, tmp_path, localstripe):  # type: ignore[no-untyped-def]
    return stripe_app(settings, engine, connection, tmp_path, localstripe.url)


def key() -> str:
    return f"test:{time.time_ns()}"


def test_a_payment_is_taken_at_once_and_can_be_refunded_in_part(gateway):
    paid = gateway.pay(
        amount_minor=12345,
        currency="EUR",
        payment_method=CARD_SUCCEEDS,
        idempotency_key=key(),
        metadata={"order_id": "1"},
    )
    assert paid.status == "succeeded" and paid.amount_minor == 12345
    assert paid.intent_id.startswith("pi_") and paid.charge_id.startswith("ch_")
    assert gateway.retrieve_payment(paid.intent_id).status == "succeeded"
    refund_id = gateway.refund(
        intent_id=paid.intent_id, amount_minor=2345, idempotency_key=key(), metadata={}
    )
    assert gateway.refunded_minor(refund_id) == 2345


def test_a_declined_card_is_a_failed_payment_with_stripes_reason(gateway):
    declined = gateway.pay(
        amount_minor=5000,
        currency="EUR",
        payment_method=CARD_DECLINED,
        idempotency_key=key(),
        metadata={},
    )
    assert declined.status == "failed"
    assert "declined" in declined.failure.lower()


def test_the_buyer_pays_on_stripe_and_the_books_agree_with_it(
    app, browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    total = sum(accepted_shares(db_session, order.id).values())
    browser.login(order.buyer)
    page = browser.get(f"/orders/{order.id}/pay")
    text = page.get_data(as_text=True)
    assert "Simulated payments" not in text
    assert 'id="card-element"' in text and "https://js.stripe.com/v3/" in text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com" in policy
    # Stripe.js turned the card into a payment method; only its id reaches us.
    browser.form(f"/orders/{order.id}/pay", {"payment_method": CARD_SUCCEEDS})
    work_off(db_session, dispatcher, database)
    assert db_session.get_one(Order, order.id).state == OrderState.CONFIRMED
    [payment] = db_session.exec(select(Payment)).all()
    assert payment.intent_id.startswith("pi_") and payment.amount_minor == total

    runner = app.test_cli_runner()
    agree = runner.invoke(args=["payments", "reconcile", "--json"])
    assert agree.exit_code == 0, agree.output
    report = json.loads(agree.output)
    assert report["gateway"] == "stripe" and report["compared"] == 1
    assert report["differences"] == []

    # Our books say more was taken than Stripe did: named, exit 1.
    payment.amount_minor += 1
    db_session.commit()
    differ = runner.invoke(args=["payments", "reconcile"])
    assert differ.exit_code == 1
    assert f"payment {payment.id}" in differ.output and payment.intent_id in differ.output
    payment.amount_minor -= 1
    db_session.commit()

    # Cancelled before production: Stripe refunds all of it.
    browser.form(f"/orders/{order.id}/cancel", {})
    work_off(db_session, dispatcher, database)
    [refund] = db_session.exec(select(Refund)).all()
    assert refund.state == "succeeded" and refund.gateway_refund_id.startswith("re_")
    assert refund.amount_minor == total
    assert runner.invoke(args=["payments", "reconcile"]).exit_code == 0
    bad = runner.invoke(args=["payments", "reconcile", "--since", "-3"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_stripes_signed_webhook_is_applied_once(
    app, browser, db_session, two_shop_order, dispatcher, database, localstripe, httpserver
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    localstripe.send_webhooks_to(httpserver.url_for("/hook"))
    order = two_shop_order
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    payment = db_session.exec(select(Payment)).one()
    # localstripe posts its events a second after the change.
    deadline = time.monotonic() + 10
    delivered = []
    while time.monotonic() < deadline and not delivered:
        delivered = [
            (request.get_data(), request.headers["Stripe-Signature"])
            for request, _ in httpserver.log
            if json.loads(request.get_data())["type"] == "payment_intent.succeeded"
            and json.loads(request.get_data())["data"]["object"]["id"] == payment.intent_id
        ]
        time.sleep(0.1)
    assert delivered, "localstripe sent no payment_intent.succeeded"
    body, signature = delivered[0]
    first = browser.client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["outcome"] == "nothing new"  # our own call got there first
    again = browser.client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert again.get_json()["outcome"] == "already applied"
    assert len(db_session.exec(select(GatewayEvent)).all()) == 1


def intent_event(event_id: str, kind: str, payment: Payment, status: str) -> dict[str, object]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": payment.intent_id or "pi_unknown",
                "object": "payment_intent",
                "status": status,
                "amount": payment.amount_minor,
                "amount_received": payment.amount_minor if status == "succeeded" else 0,
                "latest_charge": "ch_from_event",
                "metadata": {"payment": payment.idempotency_key},
            }
        },
    }


def post_event(browser, event, secret=WEBHOOK_SECRET):  # type: ignore[no-untyped-def]
    body, signature = signed(event, secret)
    return browser.client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def test_late_duplicated_and_out_of_order_events_change_nothing(
    app, browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    payment = db_session.exec(select(Payment)).one()
    # A failure reported after the success: the payment stays captured.
    late = post_event(
        browser,
        intent_event(
            "evt_late_1", "payment_intent.payment_failed", payment, "requires_payment_method"
        ),
    )
    assert late.status_code == 200 and late.get_json()["outcome"] == "nothing new"
    processing = post_event(
        browser, intent_event("evt_late_2", "payment_intent.processing", payment, "processing")
    )
    assert processing.get_json()["outcome"] == "nothing new"
    twice = post_event(
        browser,
        intent_event(
            "evt_late_1", "payment_intent.payment_failed", payment, "requires_payment_method"
        ),
    )
    assert twice.get_json()["outcome"] == "already applied"
    db_session.expire_all()
    assert db_session.get_one(Payment, payment.id).state == PaymentState.CAPTURED
    assert db_session.get_one(Order, order.id).state == OrderState.CONFIRMED


def test_the_event_may_come_before_our_own_call_returns(
    app, browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    browser.login(order.buyer)
    browser.form(f"/orders/{order.id}/pay", {"payment_method": CARD_SUCCEEDS})
    payment = db_session.exec(select(Payment)).one()
    assert payment.state == PaymentState.PROCESSING
    # Stripe's event is here before the worker's call came back: it confirms the order.
    early = post_event(
        browser, intent_event("evt_early", "payment_intent.succeeded", payment, "succeeded")
    )
    assert early.get_json()["outcome"] == "captured; order confirmed"
    db_session.expire_all()
    assert db_session.get_one(Order, order.id).state == OrderState.CONFIRMED
    # The call's own answer then changes nothing.
    results = work_off(db_session, dispatcher, database)
    assert results == ["done"]
    assert len(db_session.exec(select(Payment)).all()) == 1


def test_a_bad_signature_or_an_unknown_event_is_refused_by_name_and_kept_nowhere(
    app, browser, db_session, two_shop_order, dispatcher, database
):
    order = two_shop_order
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    payment = db_session.exec(select(Payment)).one()
    forged = post_event(
        browser,
        intent_event("evt_forged", "payment_intent.canceled", payment, "canceled"),
        secret="whsec_wrong",
    )
    assert forged.status_code == 400
    assert forged.get_json()["fields"][0]["field"] == "Stripe-Signature"
    unknown = post_event(
        browser, {**intent_event("evt_odd", "customer.created", payment, "succeeded")}
    )
    assert unknown.status_code == 400
    assert unknown.get_json()["fields"][0]["field"] == "type"
    garbage = browser.client.post(
        "/payments/stripe/webhook", data=b"{", headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert garbage.status_code == 400
    assert db_session.exec(select(GatewayEvent)).all() == []
    db_session.expire_all()
    assert db_session.get_one(Payment, payment.id).state == PaymentState.CAPTURED
