"""Events from the gateway (Stripe's webhooks): checked against the signing secret on the
raw body, kept by their id and applied once, in the same transaction as their effect.
The payments' states only move forward, so an event that comes late, twice, or out of
order changes nothing that is already further along."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from factories.models import id_of
from marketplace.payments.charges import apply_payment_result
from marketplace.payments.gateways.base import (
    AccountResult,
    BadEvent,
    Event,
    Gateway,
    PaymentResult,
)
from marketplace.payments.gateways.stripe import STATUS, charge_of
from marketplace.payments.models import ConnectedAccount, GatewayEvent, Payment, Payout, Refund
from marketplace.payments.payouts import apply_account, mark_sent
from marketplace.payments.refunds import mark_refunded

HANDLED = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "charge.refunded",
    "account.updated",
    "transfer.created",
)


def receive(
    session: Session, gateway: Gateway, payload: bytes, signature: str, now: datetime
) -> str:
    """Check, keep and apply one event; what it did ("already applied" for a repeat).
    BadEvent (nothing kept, no money moved) for a bad signature or an unknown type."""
    event = gateway.read_event(payload, signature)
    if event.type not in HANDLED:
        raise BadEvent("type", f"{event.type!r} is not an event this endpoint takes")
    kept = GatewayEvent(
        event_id=event.event_id,
        gateway=gateway.name,
        type=event.type,
        payload=event.raw,
        received_at=now,
    )
    # The event's row first: the same event received twice at once waits here for the
    # other's transaction, and then finds it kept.
    try:
        with session.begin_nested():
            session.add(kept)
    except IntegrityError:
        return "already applied"
    outcome = apply(session, event, now)
    kept.outcome = outcome[:200]
    return outcome


def apply(session: Session, event: Event, now: datetime) -> str:
    data = event.data
    if event.type.startswith("payment_intent."):
        payment = session.exec(select(Payment).where(Payment.intent_id == data["id"])).first()
        if payment is None:
            payment = _by_metadata(session, data)
        if payment is None:
            return f"no payment for {data['id']}"
        error = data.get("last_payment_error") or {}
        result = PaymentResult(
            data["id"],
            STATUS.get(str(data.get("status")), "processing"),
            int(data.get("amount_received") or 0),
            charge_id=charge_of(data),
            failure=error.get("message", "") if isinstance(error, dict) else "",
        )
        return apply_payment_result(session, id_of(payment), result, now)
    if event.type == "charge.refunded":
        applied = 0
        for entry in (data.get("refunds") or {}).get("data", []):
            key = (entry.get("metadata") or {}).get("refund", "")
            refund = session.exec(
                select(Refund).where(
                    (Refund.gateway_refund_id == entry["id"]) | (Refund.idempotency_key == key)
                )
            ).first()
            if refund is not None:
                mark_refunded(session, refund, entry["id"], now)
                applied += 1
        return f"{applied} refund(s) confirmed"
    if event.type == "account.updated":
        account = session.exec(
            select(ConnectedAccount).where(ConnectedAccount.account_id == data["id"])
        ).first()
        if account is None:
            return f"no account {data['id']}"
        account_result = AccountResult(
            data["id"], bool(data.get("payouts_enabled")), bool(data.get("details_submitted"))
        )
        apply_account(session, account, account_result, now)
        return "payouts enabled" if account_result.payouts_enabled else "payouts not enabled"
    # transfer.created
    payout = session.exec(select(Payout).where(Payout.transfer_id == data["id"])).first()
    if payout is None:
        group = str(data.get("transfer_group") or "")
        account = session.exec(
            select(ConnectedAccount).where(ConnectedAccount.account_id == data.get("destination"))
        ).first()
        if group.startswith("order-") and account is not None:
            payout = session.exec(
                select(Payout).where(
                    Payout.order_id == int(group.removeprefix("order-")),
                    Payout.factory_id == account.factory_id,
                )
            ).first()
    if payout is None:
        return f"no payout for {data['id']}"
    mark_sent(session, payout, data["id"], now)
    return "payout sent"


def _by_metadata(session: Session, data: dict[str, Any]) -> Payment | None:
    key = (data.get("metadata") or {}).get("payment", "")
    if not key:
        return None
    return session.exec(select(Payment).where(Payment.idempotency_key == key)).first()
