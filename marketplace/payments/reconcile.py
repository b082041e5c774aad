"""Our books against the gateway's: every capture, refund and transfer we recorded is
looked up at the gateway and its amount compared; the simulated gateway is also asked for
what it holds that we did not record. Used by `factoryweb payments reconcile`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from marketplace.payments.gateways.base import Gateway, GatewayError, GatewayRefusal
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.models import Payment, PaymentState, Payout, PayoutState, Refund


@dataclass(frozen=True)
class Difference:
    kind: str  # capture, refund or transfer
    ours: str  # what we recorded (payment/refund/payout id), or "" if only the gateway has it
    theirs: str  # the gateway's object id
    expected_minor: int | None
    found_minor: int | None
    problem: str

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def reconcile(session: Session, gateway: Gateway, since: datetime) -> tuple[int, list[Difference]]:
    """(how many objects were compared, the differences)."""
    differences: list[Difference] = []
    compared = 0
    payments = session.exec(
        select(Payment).where(
            Payment.state == PaymentState.CAPTURED, col(Payment.captured_at) >= since
        )
    ).all()
    for payment in payments:
        compared += 1
        try:
            found = gateway.retrieve_payment(payment.intent_id)
        except (GatewayError, GatewayRefusal) as error:
            differences.append(
                Difference("capture", f"payment {payment.id}", payment.intent_id,
                           payment.amount_minor, None, f"not found at the gateway: {error}")
            )  # fmt: skip
            continue
        if found.status != "succeeded" or found.amount_minor != payment.amount_minor:
            differences.append(
                Difference("capture", f"payment {payment.id}", payment.intent_id,
                           payment.amount_minor, found.amount_minor,
                           f"the gateway has it {found.status} for {found.amount_minor}")
            )  # fmt: skip
    for refund in session.exec(
        select(Refund).where(Refund.state == "succeeded", col(Refund.succeeded_at) >= since)
    ):
        compared += 1
        differences.extend(
            _amount("refund", f"refund {refund.id}", refund.gateway_refund_id,
                    refund.amount_minor, gateway.refunded_minor)
        )  # fmt: skip
    for payout in session.exec(
        select(Payout).where(Payout.state == PayoutState.SENT, col(Payout.sent_at) >= since)
    ):
        if not payout.transfer_id:  # nothing to send: all of the share was refunded
            continue
        compared += 1
        differences.extend(
            _amount("transfer", f"payout {payout.id}", payout.transfer_id,
                    payout.amount_minor, gateway.transferred_minor)
        )  # fmt: skip
    if isinstance(gateway, SimulatedGateway):
        differences.extend(_only_theirs(session, gateway))
    return compared, differences


def _amount(
    kind: str, ours: str, theirs: str, expected: int, lookup: Callable[[str], int]
) -> list[Difference]:
    try:
        found = lookup(theirs)
    except (GatewayError, GatewayRefusal) as error:
        return [
            Difference(kind, ours, theirs, expected, None, f"not found at the gateway: {error}")
        ]
    if found != expected:
        return [Difference(kind, ours, theirs, expected, found, "amounts differ")]
    return []


def _only_theirs(session: Session, gateway: SimulatedGateway) -> list[Difference]:
    """What the gateway holds that our books do not know (a charge made twice, say)."""
    known = {
        "payment": set(session.exec(select(Payment.intent_id)).all()),
        "refund": set(session.exec(select(Refund.gateway_refund_id)).all()),
        "transfer": set(session.exec(select(Payout.transfer_id)).all()),
    }
    found = []
    for kind, label in (("payment", "capture"), ("refund", "refund"), ("transfer", "transfer")):
        for thing in gateway.objects(kind):
            if kind == "payment" and thing.get("status") != "succeeded":
                continue
            if thing["id"] not in known[kind]:
                found.append(
                    Difference(label, "", thing["id"], None, int(thing.get("amount", 0)),
                               "the gateway has it, our books do not")
                )  # fmt: skip
    return found
