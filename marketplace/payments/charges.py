"""The buyer's payment of an order: the accepted total, taken at once and held on the
platform until the factories are paid.

* Every hour accepted, the order waits for its payment (`awaiting_payment`) until the
  deadline. The buyer pays with a payment method (Stripe's, or the simulated gateway's):
  a payment row and its gateway call are written, and the call is made after the commit.
* The gateway's answer (the call's result, or its webhook, whichever comes first) moves
  the payment forward only: captured confirms the order; declined lets the buyer try
  again. The amount is the accepted total, fixed when the payment is made; an order has
  at most one payment in flight or captured, so the buyer is never charged twice.
* Unpaid at the deadline, the factories get their hours back and the order is open again;
  a payment that succeeds anyway for an order that no longer waits is refunded in full.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, select

from factories.errors import N_, Conflict
from factories.ledger import EventKind
from factories.models import id_of
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.db import Database
from marketplace.orders import access
from marketplace.orders.models import Order, OrderState
from marketplace.orders.notify import events
from marketplace.orders.posting.service import lock_order, lock_orders
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.orders.proposals.settling import confirm_paid, release_unpaid
from marketplace.payments import operations, refunds
from marketplace.payments.errors import PaymentError
from marketplace.payments.gateways.base import Gateway, PaymentResult
from marketplace.payments.models import PAYMENT_ORDER, GatewayOperation, Payment, PaymentState
from marketplace.payments.settings import PaymentSettings

PAYMENT_METHOD = re.compile(r"pm_[A-Za-z0-9_]{1,100}")
IN_FLIGHT = (PaymentState.PROCESSING, PaymentState.CAPTURED)


def accepted_total(session: Session, order: Order) -> int:
    """What the buyer pays: the sum of the accepted proposals' prices."""
    return sum(accepted_shares(session, id_of(order)).values())


def payments_of(session: Session, order_id: int) -> list[Payment]:
    return list(
        session.exec(
            select(Payment).where(Payment.order_id == order_id).order_by(col(Payment.attempt))
        ).all()
    )


def captured_payment(session: Session, order_id: int) -> Payment | None:
    return session.exec(
        select(Payment).where(Payment.order_id == order_id, Payment.state == PaymentState.CAPTURED)
    ).first()


def payment_deadline(order: Order, settings: PaymentSettings) -> datetime | None:
    if order.payment_requested_at is None:
        return None
    return order.payment_requested_at + settings.deadline


def pay(
    session: Session,
    principal: Principal,
    order_id: int,
    payment_method: str,
    *,
    gateway: Gateway,
    settings: PaymentSettings,
    now: datetime,
) -> Payment:
    """The buyer pays the order's accepted total with `payment_method`; the gateway is
    called after the commit."""
    order = lock_order(session, access.buyer_order_for(session, principal, order_id))
    payment_method = payment_method.strip()
    if not PAYMENT_METHOD.fullmatch(payment_method):
        raise PaymentError(
            "payment_method", N_("must be a payment method id (pm_...) of the payment page")
        )
    if order.state != OrderState.AWAITING_PAYMENT:
        raise Conflict(
            N_("the order is %(state)s; it is not waiting for payment", state=order.state)
        )
    deadline = payment_deadline(order, settings)
    if deadline is not None and now > deadline:
        raise Conflict(N_("the deadline to pay this order has passed"))
    earlier = payments_of(session, id_of(order))
    if any(p.state in IN_FLIGHT for p in earlier):
        raise Conflict(N_("this order is already being paid"))
    attempt = len(earlier) + 1
    payment = Payment(
        order_id=id_of(order),
        attempt=attempt,
        gateway=gateway.name,
        state=PaymentState.PROCESSING,
        amount_minor=accepted_total(session, order),
        currency=order.currency,
        payment_method=payment_method,
        idempotency_key=f"order:{order.id}:payment:{attempt}:v1",
    )
    session.add(payment)
    session.flush()
    operations.enqueue(session, "pay", id_of(payment), payment.idempotency_key)
    return payment


def _pay_call(database: Database, gateway: Gateway, operation: GatewayOperation) -> PaymentResult:
    with database.session() as session:
        payment = session.get_one(Payment, operation.subject_id)
        amount, currency, method, order_id = (
            payment.amount_minor,
            payment.currency,
            payment.payment_method,
            payment.order_id,
        )
    return gateway.pay(
        amount_minor=amount,
        currency=currency,
        payment_method=method,
        idempotency_key=operation.idempotency_key,
        metadata={"order_id": str(order_id), "payment": operation.idempotency_key},
    )


def _apply_result(
    session: Session, operation: GatewayOperation, result: PaymentResult, now: datetime
) -> None:
    apply_payment_result(session, operation.subject_id, result, now)


def apply_payment_result(
    session: Session, payment_id: int, result: PaymentResult, now: datetime
) -> str:
    """What the gateway says of a payment, moving it forward only; what it did."""
    payment = session.get_one(Payment, payment_id)
    [order] = lock_orders(session, [payment.order_id])
    session.refresh(payment, with_for_update=True)
    if result.intent_id and not payment.intent_id:
        payment.intent_id = result.intent_id
    target = {
        "succeeded": PaymentState.CAPTURED,
        "failed": PaymentState.FAILED,
        "canceled": PaymentState.CANCELED,
    }.get(result.status)
    if target is None or PAYMENT_ORDER[target] <= PAYMENT_ORDER[PaymentState(payment.state)]:
        return "nothing new"
    payment.state = target
    if target == PaymentState.CAPTURED:
        payment.charge_id = result.charge_id
        payment.captured_at = now
        records.money(session, EventKind.PAID, id_of(order), payment.amount_minor, payment.currency)
        if order.state == OrderState.AWAITING_PAYMENT:
            confirm_paid(session, order, now)
            return "captured; order confirmed"
        # Paid after the order stopped waiting (deadline, cancellation): all of it back.
        refunds.refund_rest(session, payment, reason="not_waiting", now=now)
        return "captured too late; refunded"
    if target == PaymentState.FAILED:
        payment.failure = (result.failure or "declined")[:500]
        events.notify(
            session,
            [order.buyer_organization_id],
            "payment.failed",
            order_id=order.id,
            title=order.title,
        )
        return "failed"
    return "canceled"


def expire_unpaid(session: Session, now: datetime, settings: PaymentSettings) -> int:
    """Orders past their payment deadline with no payment in flight: the hours go back,
    the order is open again, payments not taken are canceled."""
    due = session.exec(
        select(Order.id).where(
            Order.state == OrderState.AWAITING_PAYMENT,
            col(Order.payment_requested_at) < now - settings.deadline,
        )
    ).all()
    expired = 0
    for order in lock_orders(session, list(due)):  # type: ignore[arg-type]
        if order.state != OrderState.AWAITING_PAYMENT:
            continue
        payments = payments_of(session, id_of(order))
        if any(p.state in IN_FLIGHT for p in payments):
            continue  # the gateway's answer decides; a late success is refunded
        for payment in payments:
            if payment.state == PaymentState.REQUESTED:
                payment.state = PaymentState.CANCELED
        release_unpaid(session, order, now)
        expired += 1
    return expired


def on_order_cancelled(order: Order, *, session: Session, now: datetime) -> None:
    """A paid order cancelled before production: the buyer gets all of it back."""
    payment = captured_payment(session, id_of(order))
    if payment is not None:
        refunds.refund_rest(session, payment, reason="cancelled", now=now)
    for other in payments_of(session, id_of(order)):
        if other.state == PaymentState.PROCESSING and other.intent_id:
            operations.enqueue(
                session, "cancel_payment", id_of(other), f"{other.idempotency_key}:cancel"
            )


def _cancel_call(database: Database, gateway: Gateway, operation: GatewayOperation) -> None:
    with database.session() as session:
        payment = session.get_one(Payment, operation.subject_id)
        intent_id = payment.intent_id
    gateway.cancel_payment(intent_id, operation.idempotency_key)


def _sync_call(database: Database, gateway: Gateway, operation: GatewayOperation) -> PaymentResult:
    with database.session() as session:
        intent_id = session.get_one(Payment, operation.subject_id).intent_id
    return gateway.retrieve_payment(intent_id)


operations.handles("pay", _pay_call, _apply_result)
operations.handles("sync_payment", _sync_call, _apply_result)
operations.handles("cancel_payment", _cancel_call, lambda session, operation, result, now: None)
