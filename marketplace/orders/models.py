"""Demand-side tables: orders and their lines, matching runs and the proposals they make,
the capacity each proposal holds, production milestones and their documents, disputes,
ratings, notifications and outgoing webhooks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from factories.models import Hours, JsonDocument, UtcDateTime, timestamp_field


class OrderState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    MATCHING = "matching"
    PROPOSED = "proposed"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"


def _in_list(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Order(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (
        sa.CheckConstraint(_in_list("state", OrderState), name="state"),
        sa.CheckConstraint("min_credit >= 0 AND min_credit <= 1", name="min_credit_range"),
        sa.CheckConstraint("budget_minor IS NULL OR budget_minor >= 0", name="budget_nonnegative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    buyer_organization_id: int = Field(foreign_key="organization.id", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    title: str = Field(max_length=200)
    state: str = Field(default=OrderState.DRAFT, max_length=16, index=True)
    due_date: date
    delivery_country: str = Field(max_length=2)
    delivery_city: str = Field(default="", max_length=120)
    delivery_latitude: float
    delivery_longitude: float
    # Minor units of `currency`: BIGINT, since a budget in a currency without minor units
    # (KRW, JPY) passes 2**31 long before it is unusual.
    budget_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    currency: str = Field(default="EUR", max_length=3)
    min_credit: float = Field(default=0.0)
    # A proposal was declined or expired while a matching run was in flight: the run
    # that settles the order starts another one for the freed work.
    rematch_requested: bool = Field(default=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    # Every hour accepted: the buyer pays within the payment deadline (marketplace.payments)
    # from this moment; confirmed_at is when the money was taken.
    payment_requested_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The last factory shipped: the dispute window runs from here.
    shipped_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "line_no"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("hours > 0", name="hours_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True, ondelete="CASCADE")
    line_no: int
    process_code: str = Field(max_length=40)
    material: str = Field(max_length=40)
    quantity: int
    hours: Decimal = Field(sa_type=Hours, description="total production hours of the line")
    # Given instead of `hours` when the buyer knows the time per part; hours = quantity x this.
    hours_per_part: Decimal | None = Field(default=None, sa_type=sa.Numeric(12, 4))
    length_mm: int = Field(default=1)
    width_mm: int = Field(default=1)
    height_mm: int = Field(default=1)
    tolerance_class: str = Field(default="ISO 2768-m", max_length=16)
    certifications_required: list[str] = Field(default_factory=list, sa_type=JsonDocument)
    splittable: bool = Field(default=False)
    # What the buyer paid for the line, kept when an operator's outage takes paid work off
    # it: the work re-placed is offered only at prices that fit in it (docs/operator.md).
    paid_price_minor: int | None = Field(default=None, sa_type=sa.BigInteger)


class MatchRunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MatchRunKind(StrEnum):
    MATCH = "match"  # first placement of an order's work
    REMATCH = "rematch"  # after a decline or expiry, keeping the rest of the plan


class MatchRun(SQLModel, table=True):
    """One solve of the allocation engine; its problem and plan are kept for replay."""

    __tablename__ = "match_run"
    __table_args__ = (
        sa.CheckConstraint(_in_list("state", MatchRunState), name="state"),
        sa.CheckConstraint(_in_list("kind", MatchRunKind), name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(default=MatchRunState.QUEUED, max_length=16, index=True)
    kind: str = Field(default=MatchRunKind.MATCH, max_length=16)
    # The buyer whose orders the run places; None for a marketplace-wide batch run.
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    time_limit_s: float = Field(default=10.0)
    problem: dict = Field(default_factory=dict, sa_type=JsonDocument)
    # The standing proposals the run started from (a contract-v1 plan), for rematch replays.
    previous_plan: dict | None = Field(default=None, sa_type=JsonDocument)
    plan: dict | None = Field(default=None, sa_type=JsonDocument)
    progress: dict = Field(default_factory=dict, sa_type=JsonDocument)
    # What applying the plan did: proposals made, kept, withdrawn, hours left unplaced.
    outcome: dict = Field(default_factory=dict, sa_type=JsonDocument)
    solver_status: str | None = Field(default=None, max_length=16)
    error: str | None = Field(default=None)
    created_at: datetime = timestamp_field()
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # How many times a worker began the run: one that dies mid-run hands it back (queued),
    # up to a limit (marketplace.orders.workers.recovery).
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Written every few seconds while a worker runs it: a run silent for long has lost it.
    heartbeat_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When it was last handed to the dispatcher (None: not yet, e.g. the broker was down).
    dispatched_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class MatchRunOrder(SQLModel, table=True):
    """Which orders a run places (one for a buyer's run, many for a batch)."""

    __tablename__ = "match_run_order"
    match_run_id: int = Field(foreign_key="match_run.id", primary_key=True, ondelete="CASCADE")
    order_id: int = Field(
        foreign_key="purchase_order.id", primary_key=True, index=True, ondelete="CASCADE"
    )


class ProposalState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # a re-match moved the work elsewhere
    WITHDRAWN = "withdrawn"  # the buyer cancelled the order


class Proposal(SQLModel, table=True):
    """Work offered to one factory for one order line, as the engine planned it."""

    __table_args__ = (
        sa.CheckConstraint(_in_list("state", ProposalState), name="state"),
        sa.CheckConstraint("hours > 0", name="hours_positive"),
        sa.CheckConstraint("price_minor >= 0", name="price_nonnegative"),
        sa.Index("ix_proposal_state_expires_at", "state", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    match_run_id: int = Field(foreign_key="match_run.id", index=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    order_line_id: int = Field(foreign_key="order_line.id", index=True)
    factory_id: int = Field(foreign_key="factory.id", index=True)
    state: str = Field(default=ProposalState.PENDING, max_length=16, index=True)
    hours: Decimal = Field(sa_type=Hours)
    price_minor: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(default="EUR", max_length=3)
    explanation: dict = Field(default_factory=dict, sa_type=JsonDocument)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = timestamp_field()
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decision_note: str = Field(default="", max_length=500)
    # Machine telemetry took the factory's capacity below the hours this proposal holds
    # (docs/telemetry.md): the work may be late; the buyer and the operator were told.
    at_risk_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SlotState(StrEnum):
    HELD = "held"  # booked tentatively while the proposal is pending
    CONFIRMED = "confirmed"  # the factory accepted
    RELEASED = "released"  # given back to the bucket


class ProposalSlot(SQLModel, table=True):
    """Hours of one capacity bucket (factory, process, week) that a proposal books."""

    __tablename__ = "proposal_slot"
    __table_args__ = (
        sa.CheckConstraint(_in_list("state", SlotState), name="state"),
        sa.CheckConstraint("hours > 0", name="hours_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True, ondelete="CASCADE")
    bucket_id: int = Field(foreign_key="capacity_bucket.id", index=True)
    hours: Decimal = Field(sa_type=Hours)
    state: str = Field(default=SlotState.HELD, max_length=16)


class LostWork(SQLModel, table=True):
    """An order line that a factory could have made (one of its capacity lines was an
    option in a matching run) and got none of: per line and factory, the latest run that
    placed the line decides. Why it lost is the engine's explanation of that run, worked
    out the first time it is shown and kept in `reasons` (one entry per capacity line)."""

    __tablename__ = "lost_work"
    __table_args__ = (sa.UniqueConstraint("order_line_id", "factory_id"),)

    id: int | None = Field(default=None, primary_key=True)
    factory_id: int = Field(foreign_key="factory.id", index=True)
    # No index of its own: the unique constraint's index leads with it.
    order_line_id: int = Field(foreign_key="order_line.id", ondelete="CASCADE")
    match_run_id: int = Field(foreign_key="match_run.id", index=True)
    reasons: list | None = Field(default=None, sa_type=JsonDocument)
    created_at: datetime = timestamp_field()


class MilestoneKind(StrEnum):
    STARTED = "started"
    QA_PASSED = "qa_passed"
    SHIPPED = "shipped"


class Milestone(SQLModel, table=True):
    """A factory's report on its part of an order: started, passed QA, shipped."""

    __table_args__ = (
        sa.UniqueConstraint("order_id", "factory_id", "kind"),
        sa.CheckConstraint(_in_list("kind", MilestoneKind), name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    factory_id: int = Field(foreign_key="factory.id", index=True)
    kind: str = Field(max_length=16)
    note: str = Field(default="", max_length=2000)
    carrier: str = Field(default="", max_length=80)
    tracking_number: str = Field(default="", max_length=120)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = timestamp_field()


class DisputeState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Dispute(SQLModel, table=True):
    __table_args__ = (sa.CheckConstraint(_in_list("state", DisputeState), name="state"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    opened_by_organization_id: int = Field(foreign_key="organization.id")
    opened_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str = Field(max_length=4000)
    state: str = Field(default=DisputeState.OPEN, max_length=16)
    resolution: str = Field(default="", max_length=4000)
    created_at: datetime = timestamp_field()
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Document(SQLModel, table=True):
    """An uploaded file: a QA report of a milestone or evidence in a dispute.

    The bytes live on disk under the instance folder, named by `storage_key` only.
    """

    __table_args__ = (
        sa.CheckConstraint("(milestone_id IS NULL) <> (dispute_id IS NULL)", name="one_owner"),
        sa.CheckConstraint("size_bytes > 0", name="size_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", description="uploader")
    milestone_id: int | None = Field(default=None, foreign_key="milestone.id", index=True)
    dispute_id: int | None = Field(default=None, foreign_key="dispute.id", index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=80)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=64, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = timestamp_field()


class Rating(SQLModel, table=True):
    """After an order closes, the buyer rates each factory and each factory the buyer."""

    __table_args__ = (
        sa.UniqueConstraint("order_id", "from_organization_id", "to_organization_id"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    from_organization_id: int = Field(foreign_key="organization.id")
    to_organization_id: int = Field(foreign_key="organization.id", index=True)
    factory_id: int | None = Field(default=None, foreign_key="factory.id", index=True)
    score: int
    comment: str = Field(default="", max_length=2000)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = timestamp_field()


class Notification(SQLModel, table=True):
    """Something an organization should know about; `kind` + `params` render the text."""

    __table_args__ = (sa.Index("ix_notification_unread", "organization_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    kind: str = Field(max_length=40)
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")
    params: dict = Field(default_factory=dict, sa_type=JsonDocument)
    created_at: datetime = timestamp_field()
    read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    url: str = Field(max_length=500)
    # Signs every body with HMAC-SHA256; shown to the organization, never to anyone else.
    secret: str = Field(max_length=80)
    events: list[str] = Field(default_factory=list, sa_type=JsonDocument)
    active: bool = Field(default=True)
    created_at: datetime = timestamp_field()


class DeliveryState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up after the last attempt


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint and where its delivery stands (the delivery log); each
    attempt is a WebhookAttempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.CheckConstraint(_in_list("state", DeliveryState), name="state"),
        sa.Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True, ondelete="CASCADE")
    event: str = Field(max_length=40)
    event_id: str = Field(max_length=36)
    payload: dict = Field(default_factory=dict, sa_type=JsonDocument)
    state: str = Field(default=DeliveryState.PENDING, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_status: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One try at sending a delivery: when, how long it took, and the answer (an HTTP
    status) or what went wrong instead (a refused connection, a timeout, no HTTP)."""

    __tablename__ = "webhook_attempt"
    # Its index leads with delivery_id: the history of a delivery needs no other.
    __table_args__ = (sa.UniqueConstraint("delivery_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", ondelete="CASCADE")
    number: int = Field(description="1 for the first attempt")
    attempted_at: datetime = Field(sa_type=UtcDateTime)
    duration_ms: int
    status_code: int | None = Field(default=None)
    error: str = Field(default="", max_length=500)
