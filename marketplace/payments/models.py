"""The money's tables: the buyer's payment of an order, refunds, the factories' payouts,
their connected accounts, the gateway calls still to make (the outbox) and the gateway's
events as received. Amounts are integer minor units of `currency`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from factories.models import JsonDocument, UtcDateTime, timestamp_field


def _in_list(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class PaymentState(StrEnum):
    """Forward only, in this order: a late or repeated event never moves a payment back."""

    REQUESTED = "requested"  # the buyer is asked to pay; nothing sent to the gateway yet
    PROCESSING = "processing"  # handed to the gateway with the buyer's payment method
    CAPTURED = "captured"  # the money is on the platform
    FAILED = "failed"  # declined, or the attempt was given up; the buyer may try again
    CANCELED = "canceled"  # the order stopped waiting (deadline, cancellation) unpaid


PAYMENT_ORDER = {
    PaymentState.REQUESTED: 0,
    PaymentState.PROCESSING: 1,
    PaymentState.FAILED: 2,
    PaymentState.CANCELED: 2,
    PaymentState.CAPTURED: 3,
}


class Payment(SQLModel, table=True):
    """One attempt of the buyer to pay an order's accepted total; one at most is captured."""

    __table_args__ = (
        sa.CheckConstraint(_in_list("state", PaymentState), name="state"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refunds_bounded"
        ),
        sa.UniqueConstraint("order_id", "attempt"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    attempt: int = Field(default=1, description="1 for the order's first payment attempt")
    gateway: str = Field(max_length=16, description="stripe or simulated")
    state: str = Field(default=PaymentState.REQUESTED, max_length=16, index=True)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(max_length=3)
    refunded_minor: int = Field(default=0, sa_type=sa.BigInteger)
    payment_method: str = Field(default="", max_length=120)
    intent_id: str = Field(default="", max_length=120, index=True)
    charge_id: str = Field(default="", max_length=120)
    idempotency_key: str = Field(max_length=120, unique=True)
    failure: str = Field(default="", max_length=500)
    created_at: datetime = timestamp_field()
    captured_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Refund(SQLModel, table=True):
    """Money given back to the buyer: the whole payment (a cancellation) or a factory's
    share of it, as an operator decided in a dispute."""

    __table_args__ = (sa.CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    factory_id: int | None = Field(default=None, foreign_key="factory.id")
    amount_minor: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=40, description="cancelled or dispute")
    state: str = Field(default="pending", max_length=16, description="pending or succeeded")
    gateway_refund_id: str = Field(default="", max_length=120)
    idempotency_key: str = Field(max_length=120, unique=True)
    created_at: datetime = timestamp_field()
    succeeded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PayoutState(StrEnum):
    WAITING = "waiting"  # the factory cannot receive payouts yet (onboarding unfinished)
    QUEUED = "queued"  # to be sent by the gateway
    SENT = "sent"  # the transfer to the factory's account exists
    FAILED = "failed"  # the gateway refused it; an operator looks at it


class Payout(SQLModel, table=True):
    """One factory's pay for an order: its accepted price, less what the buyer got back
    of its share in a dispute, less the platform's fee."""

    __table_args__ = (
        sa.CheckConstraint(_in_list("state", PayoutState), name="state"),
        sa.CheckConstraint("amount_minor >= 0 AND fee_minor >= 0", name="amounts_nonnegative"),
        sa.UniqueConstraint("order_id", "factory_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    factory_id: int = Field(foreign_key="factory.id", index=True)
    payment_id: int = Field(foreign_key="payment.id")
    share_minor: int = Field(sa_type=sa.BigInteger, description="its accepted price")
    refunded_minor: int = Field(default=0, sa_type=sa.BigInteger)
    fee_minor: int = Field(sa_type=sa.BigInteger)
    amount_minor: int = Field(sa_type=sa.BigInteger, description="what is transferred")
    currency: str = Field(max_length=3)
    state: str = Field(default=PayoutState.WAITING, max_length=16, index=True)
    transfer_id: str = Field(default="", max_length=120)
    idempotency_key: str = Field(max_length=120, unique=True)
    failure: str = Field(default="", max_length=500)
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ConnectedAccount(SQLModel, table=True):
    """A factory's account at the gateway, which payouts go to."""

    __tablename__ = "connected_account"

    id: int | None = Field(default=None, primary_key=True)
    factory_id: int = Field(foreign_key="factory.id", unique=True)
    gateway: str = Field(max_length=16)
    account_id: str = Field(default="", max_length=120, index=True)
    onboarding_url: str = Field(default="", max_length=2000)
    payouts_enabled: bool = Field(default=False)
    details_submitted: bool = Field(default=False)
    idempotency_key: str = Field(max_length=120, unique=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class OperationState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after the last attempt, or the gateway refused for good


class GatewayOperation(SQLModel, table=True):
    """A call to the payment gateway, written with the business change that needs it and
    made after the commit (by a worker, with its idempotency key), never inside a
    request's transaction or an order's lock."""

    __tablename__ = "gateway_operation"
    __table_args__ = (
        sa.CheckConstraint(_in_list("state", OperationState), name="state"),
        sa.Index("ix_gateway_operation_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    subject_id: int = Field(description="the payment, refund, payout or account it is for")
    idempotency_key: str = Field(max_length=120, unique=True)
    # What the call needs besides its subject (return addresses of an onboarding link).
    payload: dict = Field(default_factory=dict, sa_type=JsonDocument)
    state: str = Field(default=OperationState.PENDING, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = timestamp_field()
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class GatewayEvent(SQLModel, table=True):
    """An event the gateway sent (its webhook), kept by its id: applied once."""

    __tablename__ = "gateway_event"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=120, unique=True)
    gateway: str = Field(max_length=16)
    type: str = Field(max_length=80)
    payload: dict = Field(default_factory=dict, sa_type=JsonDocument)
    outcome: str = Field(default="", max_length=200, description="what applying it did")
    received_at: datetime = timestamp_field()


class SimulatedObject(SQLModel, table=True):
    """The simulated gateway's own books (payments, refunds, accounts, transfers), kept
    apart from ours so that reconciliation compares two records, as with Stripe."""

    __tablename__ = "simulated_gateway_object"

    id: int | None = Field(default=None, primary_key=True)
    object_id: str = Field(max_length=120, unique=True)
    kind: str = Field(max_length=20, index=True)
    idempotency_key: str = Field(max_length=120, unique=True)
    data: dict = Field(default_factory=dict, sa_type=JsonDocument)
    created_at: datetime = timestamp_field()
