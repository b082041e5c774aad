"""The books: what each order's money did, and whether it adds up.

Per order, in its currency: captured - refunded - transferred - fees = held, where
refunded counts the refunds the gateway made, transferred and fees the payouts sent. Held
is never below 0; an order that is over (closed or cancelled) with nothing left to send
holds nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TypeVar

from sqlmodel import Session, col, select

from marketplace.orders.models import Order, OrderState
from marketplace.payments.models import (
    Payment,
    PaymentState,
    Payout,
    PayoutState,
    Refund,
)
from marketplace.payments.money import Books

OVER = (OrderState.CLOSED, OrderState.CANCELLED)
Row = TypeVar("Row", Payment, Refund, Payout)


def books_of_orders(session: Session, order_ids: Iterable[int] | None = None) -> dict[int, Books]:
    """Each order's books (all orders that had money, or those of `order_ids`)."""
    wanted = None if order_ids is None else sorted(set(order_ids))

    def where(model: type[Row]) -> Sequence[Row]:
        query = select(model)
        if wanted is not None:
            query = query.where(col(model.order_id).in_(wanted))
        return session.exec(query).all()

    return books_from(where(Payment), where(Refund), where(Payout))


def books_from(
    payments: Iterable[Payment], refunds: Iterable[Refund], payouts: Iterable[Payout]
) -> dict[int, Books]:
    """The books of the orders these rows belong to, from rows already loaded."""
    books: dict[int, Books] = defaultdict(Books)
    for payment in payments:
        if payment.state == PaymentState.CAPTURED:
            books[payment.order_id] += Books(captured=payment.amount_minor)
    for refund in refunds:
        if refund.state == "succeeded":
            books[refund.order_id] += Books(refunded=refund.amount_minor)
    for payout in payouts:
        if payout.state == PayoutState.SENT:
            books[payout.order_id] += Books(transferred=payout.amount_minor, fees=payout.fee_minor)
    return dict(books)


def mismatches(session: Session, order_ids: Iterable[int] | None = None) -> list[int]:
    """Orders whose books do not add up: more refunded and paid out than was captured,
    or money left on an order that is over and has nothing left to send."""
    books = books_of_orders(session, order_ids)
    if not books:
        return []
    orders = {o.id: o for o in session.exec(select(Order).where(col(Order.id).in_(sorted(books))))}
    pending = {
        r.order_id
        for r in session.exec(
            select(Refund).where(
                col(Refund.order_id).in_(sorted(books)), Refund.state != "succeeded"
            )
        )
    } | {
        p.order_id
        for p in session.exec(
            select(Payout).where(
                col(Payout.order_id).in_(sorted(books)), Payout.state != PayoutState.SENT
            )
        )
    }
    wrong = []
    for order_id, figures in sorted(books.items()):
        order = orders[order_id]
        if figures.held < 0:
            wrong.append(order_id)
        elif order.state in OVER and order_id not in pending and figures.held != 0:
            # Cancelled: all refunded; closed: refunds and payouts take all of it.
            wrong.append(order_id)
    return wrong


def money_by_currency(
    session: Session, order_ids: Iterable[int] | None = None
) -> dict[str, dict[str, int]]:
    """Captured, refunded, transferred, fees and held per currency."""
    books = books_of_orders(session, order_ids)
    currency_of = (
        dict(
            session.exec(
                select(Order.id, Order.currency).where(col(Order.id).in_(sorted(books)))
            ).all()
        )
        if books
        else {}
    )
    totals: dict[str, Books] = defaultdict(Books)
    for order_id, figures in books.items():
        totals[currency_of[order_id]] += figures
    return {
        currency: {
            "captured": b.captured,
            "refunded": b.refunded,
            "transferred": b.transferred,
            "fees": b.fees,
            "held": b.held,
        }
        for currency, b in sorted(totals.items())
    }
