"""Paid work re-placed after an operator's outage: the money follows the work.

An outage can take accepted work off an order the buyer has paid for
(docs/operator.md). The payment stays held while the work is placed with other
factories; its price is never more than what the buyer paid for it (the matching run's
`ceilings`). When every hour is accepted again, the order is confirmed at once, without
asking the buyer to pay:

* new total lower than what the payment still holds: the difference is refunded to the
  buyer (a partial refund of the payment, its gateway call after the commit, with the key
  `order:<order>:replanned:<n>:refund:v1`, n counting the order's re-placements);
* new total higher (the new proposals' prices are rounded to the minor unit per factory,
  so by a few minor units at most): the marketplace bears the difference out of its fee
  on the order when the factories are paid (`payouts.schedule_payouts`);
* the factories are paid their accepted shares at delivery, as always: the factory whose
  work was withdrawn has no accepted share left, the factories that took the work over do.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from factories.models import id_of
from marketplace.orders.models import Order, OrderState
from marketplace.orders.notify import events
from marketplace.orders.proposals.settling import confirm_paid
from marketplace.payments import refunds
from marketplace.payments.charges import accepted_total, captured_payment
from marketplace.payments.models import Refund

REASON = "replanned"


def on_order_fully_accepted(order: Order, *, session: Session, now: datetime) -> None:
    """Every hour accepted again on an order whose payment is still held: refund what the
    work now costs less, and confirm the order."""
    if order.state != OrderState.AWAITING_PAYMENT:
        return
    payment = captured_payment(session, id_of(order))
    if payment is None:
        return
    session.refresh(payment, with_for_update=True)
    difference = payment.amount_minor - payment.refunded_minor - accepted_total(session, order)
    refunded = 0
    if difference > 0:
        earlier = session.exec(
            select(func.count(col(Refund.id))).where(
                Refund.order_id == order.id, Refund.reason == REASON
            )
        ).one()
        refunds.refund(
            session,
            payment,
            difference,
            reason=REASON,
            key=f"order:{order.id}:replanned:{earlier + 1}:refund:v1",
        )
        refunded = difference
    order.payment_requested_at = None
    confirm_paid(session, order, now)
    if refunded:
        events.notify(
            session,
            [order.buyer_organization_id],
            "order.replanned_refund",
            order_id=order.id,
            title=order.title,
            amount_minor=refunded,
            currency=order.currency,
        )
