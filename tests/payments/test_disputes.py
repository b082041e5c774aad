"""Settling a dispute: per factory, an operator gives back to the buyer from 0 to all of
its share, exact to the minor unit; the rest is paid out and the order closes. Bad input
is refused by name and moves no money. A shipped order nobody disputes closes by itself
when the dispute window is over, and the factories are paid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import Dispute, DisputeState, Order, OrderState
from marketplace.orders.production.disputes import open_dispute
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments.books import books_of_orders, mismatches
from marketplace.payments.models import Payout, PayoutState, Refund
from marketplace.payments.money import fee_minor
from tests.orders.conftest import pay_order, principal
from tests.payments.helpers import onboard, payments_sweep, ship, work_off


@pytest.fixture
def disputed(db_session, two_shop_order, dispatcher, database, new_browser, tmp_path):  # type: ignore[no-untyped-def]
    """The two-shop order paid, both factories ready for payouts, shipped, disputed."""
    order = two_shop_order
    for shop in order.shops:
        onboard(new_browser, db_session, dispatcher, database, shop)
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    ship(db_session, order, tmp_path)
    dispute = open_dispute(
        db_session,
        principal(db_session, order.buyer),
        order.id,
        "Half of the brackets are out of tolerance.",
        upload_folder=tmp_path,
    )
    db_session.commit()
    return order, dispute


@pytest.fixture
def operator(make_member):  # type: ignore[no-untyped-def]
    return make_member(OrganizationKind.OPERATOR, Role.OPERATOR)


def refunds_of(db_session, order):
    db_session.expire_all()
    return db_session.exec(select(Refund).where(Refund.order_id == order.id)).all()


def test_the_operator_gives_back_part_of_one_factorys_share_from_the_page(
    browser, db_session, disputed, operator, dispatcher, database
):
    order, dispute = disputed
    first, second = order.shops
    shares = accepted_shares(db_session, order.id)
    browser.login(operator)
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f'name="refund_{first.id}"' in page and f'name="refund_{second.id}"' in page

    response = browser.form(
        f"/disputes/{dispute.id}/resolve",
        {"resolution": "Half redone elsewhere.", f"refund_{first.id}": "123.45"},
    )
    assert response.status_code == 303
    work_off(db_session, dispatcher, database)

    db_session.expire_all()
    assert db_session.get_one(Order, order.id).state == OrderState.CLOSED
    [refund] = refunds_of(db_session, order)
    assert (refund.factory_id, refund.amount_minor, refund.state) == (first.id, 12345, "succeeded")
    assert refund.idempotency_key == f"order:{order.id}:factory:{first.id}:refund:v1"
    payouts = {p.factory_id: p for p in db_session.exec(select(Payout))}
    rest = shares[first.id] - 12345
    assert payouts[first.id].refunded_minor == 12345
    assert payouts[first.id].fee_minor == fee_minor(rest, 500)
    assert payouts[first.id].amount_minor == rest - fee_minor(rest, 500)
    assert payouts[second.id].amount_minor == shares[second.id] - fee_minor(shares[second.id], 500)
    assert {p.state for p in payouts.values()} == {PayoutState.SENT}
    books = books_of_orders(db_session, [order.id])[order.id]
    assert books.held == 0 and books.refunded == 12345
    assert mismatches(db_session, [order.id]) == []


def test_the_whole_share_can_go_back_and_that_factory_gets_nothing(
    browser, db_session, disputed, operator, dispatcher, database
):
    order, dispute = disputed
    first = order.shops[0]
    shares = accepted_shares(db_session, order.id)
    browser.login(operator)
    response = browser.api(
        "POST",
        f"/api/v1/disputes/{dispute.id}/resolve",
        json={
            "resolution": "Nothing usable from the first shop.",
            "currency": "EUR",
            "refunds": [{"factory_id": first.id, "amount_minor": shares[first.id]}],
        },
    )
    assert response.status_code == 200, response.get_json()
    work_off(db_session, dispatcher, database)
    payouts = {p.factory_id: p for p in db_session.exec(select(Payout))}
    assert payouts[first.id].amount_minor == 0 and payouts[first.id].fee_minor == 0
    assert payouts[first.id].state == PayoutState.SENT and payouts[first.id].transfer_id == ""
    money = browser.get(f"/api/v1/orders/{order.id}/payment").get_json()
    assert money["books"]["refunded"] == shares[first.id]
    assert money["books"]["held"] == 0


@pytest.mark.parametrize(
    ("refund", "field"),
    [
        ({"amount_minor": 10**9}, "refunds[0].amount_minor"),
        ({"amount_minor": -1}, "refunds[0].amount_minor"),
        ({"amount_minor": 12.5}, "refunds[0].amount_minor"),
        ({"factory_id": 999999}, "refunds[0].factory_id"),
    ],
)
def test_a_refund_that_cannot_be_is_refused_by_name_and_moves_no_money(
    browser, db_session, disputed, operator, refund, field
):
    order, dispute = disputed
    first = order.shops[0]
    browser.login(operator)
    body = {
        "resolution": "Partly.",
        "refunds": [{"factory_id": first.id, "amount_minor": 1, **refund}],
    }
    response = browser.api("POST", f"/api/v1/disputes/{dispute.id}/resolve", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in {f["field"] for f in response.get_json()["fields"]}
    assert refunds_of(db_session, order) == []
    assert db_session.get_one(Dispute, dispute.id).state == DisputeState.OPEN


def test_a_currency_the_order_does_not_use_is_refused(browser, db_session, disputed, operator):
    order, dispute = disputed
    browser.login(operator)
    response = browser.api(
        "POST",
        f"/api/v1/disputes/{dispute.id}/resolve",
        json={"resolution": "Partly.", "currency": "USD", "refunds": []},
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "currency"
    assert "EUR" in response.get_json()["fields"][0]["message"]
    assert refunds_of(db_session, order) == []


def test_a_bad_amount_on_the_page_is_named_and_nothing_moves(
    browser, db_session, disputed, operator
):
    order, dispute = disputed
    first = order.shops[0]
    browser.login(operator)
    for amount in ("abc", "12.345", "-3"):
        response = browser.form(
            f"/disputes/{dispute.id}/resolve",
            {"resolution": "Partly.", f"refund_{first.id}": amount},
            follow_redirects=True,
        )
        page = response.get_data(as_text=True)
        assert "refunds[0]" in page, amount
        # The page shows again with the resolution and the amount as typed.
        assert response.status_code == 400
        assert f'value="{amount}"' in page and "Partly.</textarea>" in page
    assert refunds_of(db_session, order) == []
    db_session.expire_all()
    assert db_session.get_one(Dispute, dispute.id).state == DisputeState.OPEN


def test_an_undisputed_order_closes_when_the_window_is_over_and_pays_out(
    db_session, two_shop_order, dispatcher, database, new_browser, tmp_path
):
    order = two_shop_order
    for shop in order.shops:
        onboard(new_browser, db_session, dispatcher, database, shop)
    pay_order(db_session, dispatcher, database, order.buyer, order.id)
    ship(db_session, order, tmp_path)
    result = payments_sweep(dispatcher, database)
    assert result["closed_by_window"] == 0  # shipped just now
    db_session.get_one(Order, order.id).shipped_at = utcnow() - timedelta(days=7, minutes=1)
    db_session.commit()
    result = payments_sweep(dispatcher, database)
    assert result["closed_by_window"] == 1
    work_off(db_session, dispatcher, database)
    assert db_session.get_one(Order, order.id).state == OrderState.CLOSED
    payouts = db_session.exec(select(Payout).where(Payout.order_id == order.id)).all()
    assert len(payouts) == 2 and {p.state for p in payouts} == {PayoutState.SENT}
    assert books_of_orders(db_session, [order.id])[order.id].held == 0
