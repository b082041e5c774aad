"""Stripe Connect, which localstripe lacks, against a recording server: the exact account,
account link, account and transfer requests with their amounts and idempotency keys; and
the whole money of a split order through Stripe, payments on localstripe and Connect on
the recorder, behind one API base."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlmodel import select

from factories.models import utcnow
from marketplace.cli import main
from marketplace.orders.models import Order, OrderState
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments.gateways.base import CARD_SUCCEEDS
from marketplace.payments.gateways.stripe import StripeGateway
from marketplace.payments.models import (
    ConnectedAccount,
    GatewayOperation,
    Payment,
    Payout,
    PayoutState,
)
from marketplace.payments.money import fee_minor
from tests.payments.conftest import stripe_app
from tests.payments.connect_double import ConnectDouble
from tests.payments.helpers import ship, work_off
from tests.payments.stripe_servers import API_KEY, WEBHOOK_SECRET, Router, signed


@pytest.fixture
def connect(httpserver) -> ConnectDouble:  # type: ignore[no-untyped-def]
    double = ConnectDouble(httpserver)
    double.install()
    return double


@pytest.fixture
def router(localstripe, connect):  # type: ignore[no-untyped-def]
    router = Router(localstripe.url, connect.server.url_for("/").rstrip("/"))
    yield router
    router.stop()


@pytest.fixture
def app(settings, engine, connection, tmp_path, router):  # type: ignore[no-untyped-def]
    return stripe_app(settings, engine, connection, tmp_path, router.url)


def test_the_connect_calls_are_exactly_what_stripe_expects(connect):
    gateway = StripeGateway(API_KEY, connect.server.url_for("/").rstrip("/"), WEBHOOK_SECRET)
    account_id = gateway.create_account(
        country="DE", email="", idempotency_key="factory:7:account:v1", metadata={"factory_id": "7"}
    )
    [created] = connect.seen("/v1/accounts")
    assert created.form == {
        "type": "express",
        "country": "DE",
        "capabilities[transfers][requested]": "true",
        "metadata[factory_id]": "7",
    }
    assert created.idempotency_key == "factory:7:account:v1"
    url = gateway.onboarding_link(
        account_id=account_id,
        refresh_url="https://factoryweb.example/payouts",
        return_url="https://factoryweb.example/payouts/7/onboarding/return",
        idempotency_key="factory:7:account:v1:link:1",
    )
    assert url.startswith("https://connect.stripe.com/")
    [link] = connect.seen("/v1/account_links")
    assert link.form == {
        "account": account_id,
        "refresh_url": "https://factoryweb.example/payouts",
        "return_url": "https://factoryweb.example/payouts/7/onboarding/return",
        "type": "account_onboarding",
    }
    assert link.idempotency_key == "factory:7:account:v1:link:1"
    assert gateway.retrieve_account(account_id).payouts_enabled is False
    connect.enable(account_id)
    assert gateway.retrieve_account(account_id).payouts_enabled is True

    transfer_id = gateway.transfer(
        amount_minor=95000,
        currency="EUR",
        account_id=account_id,
        source_charge="ch_123",
        transfer_group="order-5",
        idempotency_key="order:5:factory:7:transfer:v1",
    )
    [transfer] = connect.seen("/v1/transfers")
    assert transfer.form == {
        "amount": "95000",
        "currency": "eur",
        "destination": account_id,
        "source_transaction": "ch_123",
        "transfer_group": "order-5",
    }
    assert transfer.idempotency_key == "order:5:factory:7:transfer:v1"
    assert gateway.transferred_minor(transfer_id) == 95000


def post_event(browser, event):  # type: ignore[no-untyped-def]
    body, signature = signed(event)
    return browser.client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def test_a_split_order_pays_each_factory_through_stripe_once(
    app, browser, new_browser, db_session, two_shop_order, dispatcher, database, connect, tmp_path
):
    order = two_shop_order
    ready, late = order.shops
    shares = accepted_shares(db_session, order.id)

    # The first factory's owner goes through Stripe's onboarding and comes back.
    owner = new_browser()
    owner.login(ready.owner)
    assert owner.form(f"/payouts/{ready.id}/onboarding", {}).status_code == 303
    work_off(db_session, dispatcher, database)
    [created] = connect.seen("/v1/accounts")
    assert created.idempotency_key == f"factory:{ready.id}:account:v1"
    [link] = connect.seen("/v1/account_links")
    assert link.idempotency_key == f"factory:{ready.id}:account:v1:link:1"
    account_id = link.form["account"]
    assert link.form["return_url"].endswith(f"/payouts/{ready.id}/onboarding/return")
    wait = owner.get(f"/payouts/{ready.id}/onboarding", headers={"HX-Request": "true"})
    assert wait.headers["HX-Redirect"] == f"https://connect.stripe.com/setup/e/{account_id}/link"
    connect.enable(account_id)
    assert owner.get(f"/payouts/{ready.id}/onboarding/return").status_code == 303
    work_off(db_session, dispatcher, database)
    assert db_session.exec(select(ConnectedAccount)).one().payouts_enabled

    # The buyer pays on Stripe (localstripe); the order ships and is delivered.
    browser.login(order.buyer)
    browser.form(f"/orders/{order.id}/pay", {"payment_method": CARD_SUCCEEDS})
    work_off(db_session, dispatcher, database)
    payment = db_session.exec(select(Payment)).one()
    assert payment.charge_id.startswith("ch_")
    ship(db_session, order, tmp_path)
    browser.form(f"/orders/{order.id}/deliver", {})
    work_off(db_session, dispatcher, database)
    assert db_session.get_one(Order, order.id).state == OrderState.DELIVERED

    [transfer] = connect.seen("/v1/transfers")
    amount = shares[ready.id] - fee_minor(shares[ready.id], 500)
    assert transfer.form == {
        "amount": str(amount),
        "currency": "eur",
        "destination": account_id,
        "source_transaction": payment.charge_id,
        "transfer_group": f"order-{order.id}",
    }
    assert transfer.idempotency_key == f"order:{order.id}:factory:{ready.id}:transfer:v1"
    payouts = {p.factory_id: p for p in db_session.exec(select(Payout))}
    assert payouts[ready.id].state == PayoutState.SENT
    assert payouts[ready.id].transfer_id == transfer_id_of(connect, amount)
    assert payouts[late.id].state == PayoutState.WAITING  # no account yet

    # The second factory onboards later; Stripe tells us by webhook that it can be paid.
    other = new_browser()
    other.login(late.owner)
    other.form(f"/payouts/{late.id}/onboarding", {})
    work_off(db_session, dispatcher, database)
    late_account = connect.seen("/v1/account_links")[-1].form["account"]
    connect.enable(late_account)
    # Its first transfer attempt meets a Stripe outage.
    connect.failures["/v1/transfers"] = [(500, {"error": {"type": "api_error"}})]
    event = {
        "id": "evt_account_ready",
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "data": {"object": {"id": late_account, "object": "account", "payouts_enabled": True,
                            "details_submitted": True}},
    }  # fmt: skip
    answer = post_event(browser, event)
    assert answer.get_json()["outcome"] == "payouts enabled"
    work_off(db_session, dispatcher, database)  # meets the outage: retried later
    retry = db_session.exec(
        select(GatewayOperation).where(
            GatewayOperation.kind == "transfer", GatewayOperation.state == "pending"
        )
    ).one()
    assert (retry.attempts == 1 and "api_error" in retry.last_error.lower()) or retry.last_error
    retry.next_attempt_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    dispatcher.run_sweeps(database)
    work_off(db_session, dispatcher, database)
    late_transfers = [
        t for t in connect.seen("/v1/transfers") if t.form["destination"] == late_account
    ]
    assert len(late_transfers) == 2  # the outage, then the retry
    assert {t.idempotency_key for t in late_transfers} == {
        f"order:{order.id}:factory:{late.id}:transfer:v1"
    }
    db_session.expire_all()
    assert db_session.get_one(Payout, payouts[late.id].id).state == PayoutState.SENT
    assert len(connect.transfers) == 2

    # Our books and Stripe's agree: payments on localstripe, transfers on the recorder.
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output


def transfer_id_of(connect: ConnectDouble, amount: int) -> str:
    return next(t["id"] for t in connect.transfers.values() if t["amount"] == amount)


def test_the_simulation_moves_its_money_through_stripe(committed_app, router, connect):
    connect.enable_at_once = True
    app = committed_app("thread", stripe_base=router.url)
    result = CliRunner().invoke(
        main,
        ["simulate", "--factories", "12", "--orders", "10", "--weeks", "4", "--seed", "404",
         "--batch", "10", "--time-limit", "1", "--json"],
        obj=ScriptInfo(create_app=lambda: app),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["gateway"] == "stripe" and summary["money_mismatches"] == 0
    eur = summary["money"]["EUR"]
    assert eur["captured"] > 0 and eur["transferred"] > 0
    assert eur["captured"] - eur["refunded"] - eur["transferred"] - eur["fees"] == eur["held"]
    # Its factories onboarded through Connect, and were paid by transfers there.
    assert connect.seen("/v1/accounts") and connect.seen("/v1/transfers")
    assert sum(t["amount"] for t in connect.transfers.values()) == eur["transferred"]
