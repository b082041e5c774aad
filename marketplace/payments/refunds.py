"""Money back to the buyer: all of it when a paid order is cancelled before production,
or, when an operator settles a dispute, as much of each factory's share as the operator
decides (0 to all of it); the rest of the share is paid out to the factory. Exact to the
minor unit: a refund is never more than what was paid and not yet refunded."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from factories.ledger import EventKind
from factories.models import id_of
from marketplace.credit import records
from marketplace.db import Database
from marketplace.payments import operations
from marketplace.payments.gateways.base import Gateway
from marketplace.payments.models import GatewayOperation, Payment, Refund


def refund(
    session: Session,
    payment: Payment,
    amount_minor: int,
    *,
    reason: str,
    key: str,
    factory_id: int | None = None,
) -> Refund:
    """Give `amount_minor` of the (locked) payment back; the call is made after commit."""
    if not 0 < amount_minor <= payment.amount_minor - payment.refunded_minor:
        raise ValueError(f"refund of {amount_minor} beyond what payment {payment.id} still holds")
    refund = Refund(
        payment_id=id_of(payment),
        order_id=payment.order_id,
        factory_id=factory_id,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason=reason,
        idempotency_key=key,
    )
    payment.refunded_minor += amount_minor
    session.add(refund)
    session.flush()
    operations.enqueue(session, "refund", id_of(refund), key)
    return refund


def refund_rest(session: Session, payment: Payment, *, reason: str, now: datetime) -> Refund | None:
    """Give back everything of the payment not yet refunded."""
    rest = payment.amount_minor - payment.refunded_minor
    if rest <= 0:
        return None
    return refund(
        session, payment, rest, reason=reason, key=f"order:{payment.order_id}:refund:all:v1"
    )


def refunds_of(session: Session, order_id: int) -> list[Refund]:
    return list(
        session.exec(
            select(Refund).where(Refund.order_id == order_id).order_by(col(Refund.id))
        ).all()
    )


def _refund_call(database: Database, gateway: Gateway, operation: GatewayOperation) -> str:
    with database.session() as session:
        refund = session.get_one(Refund, operation.subject_id)
        payment = session.get_one(Payment, refund.payment_id)
        intent_id, amount, order_id = payment.intent_id, refund.amount_minor, refund.order_id
    return gateway.refund(
        intent_id=intent_id,
        amount_minor=amount,
        idempotency_key=operation.idempotency_key,
        metadata={"order_id": str(order_id), "refund": operation.idempotency_key},
    )


def _apply_refund(
    session: Session, operation: GatewayOperation, refund_id: str, now: datetime
) -> None:
    refund = session.get_one(Refund, operation.subject_id)
    mark_refunded(session, refund, refund_id, now)


def mark_refunded(session: Session, refund: Refund, gateway_refund_id: str, now: datetime) -> None:
    """The gateway made the refund (its answer, or its webhook: either, once)."""
    if refund.state == "succeeded":
        return
    refund.state = "succeeded"
    refund.gateway_refund_id = refund.gateway_refund_id or gateway_refund_id
    refund.succeeded_at = now
    records.money(
        session,
        EventKind.REFUNDED,
        refund.order_id,
        refund.amount_minor,
        refund.currency,
        factory_id=refund.factory_id,
        reason=refund.reason,
    )


operations.handles("refund", _refund_call, _apply_refund)
