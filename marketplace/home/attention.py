"""What needs each person's attention, for the home page they land on after signing in.

A buyer: orders to pay (with the deadline), deliveries to confirm, deliveries to rate,
drafts to post, orders waiting on the factories, disputes under way. A factory: its
pending proposals by deadline, and the work it has accepted that is not shipped yet. An
operator: factories to verify, open disputes, and orders at risk (due within a week and
not shipped, or already late). Each list reads through the one access rule of its area
(`orders.access.visible_orders`), so nobody sees here what they could not open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import CapacityBucket, Factory, FactoryStatus
from marketplace.accounts.service import Principal
from marketplace.orders.access import visible_orders
from marketplace.orders.models import (
    Dispute,
    DisputeState,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    Rating,
    SlotState,
)
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments.charges import payment_deadline
from marketplace.payments.settings import PaymentSettings

# Orders due this soon and not shipped are at risk.
AT_RISK_WITHIN = timedelta(days=7)
NOT_SHIPPED = (OrderState.CONFIRMED, OrderState.IN_PRODUCTION)
# How many of each list the home page shows; the rest is one link away.
SHOWN = 20


@dataclass(frozen=True)
class OrderItem:
    order_id: int
    title: str
    state: str
    due_date: date
    currency: str
    amount_minor: int | None = None
    deadline: datetime | None = None


@dataclass
class BuyerAttention:
    to_pay: list[OrderItem] = field(default_factory=list)
    to_confirm: list[OrderItem] = field(default_factory=list)
    to_rate: list[OrderItem] = field(default_factory=list)
    drafts: list[OrderItem] = field(default_factory=list)
    with_factories: list[OrderItem] = field(default_factory=list)
    disputed: list[OrderItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.to_pay,
                self.to_confirm,
                self.to_rate,
                self.drafts,
                self.with_factories,
                self.disputed,
            )
        )


@dataclass(frozen=True)
class ProposalItem:
    proposal_id: int
    order_id: int
    order_title: str
    factory_name: str
    process_code: str
    hours: Decimal
    price_minor: int
    currency: str
    expires_at: datetime
    due_date: date


@dataclass
class FactoryAttention:
    pending: list[ProposalItem] = field(default_factory=list)
    in_hand: list[ProposalItem] = field(default_factory=list)


@dataclass(frozen=True)
class DisputeItem:
    dispute_id: int
    order_id: int
    order_title: str
    reason: str
    opened_at: datetime


@dataclass(frozen=True)
class FactoryItem:
    factory_id: int
    name: str
    country: str
    registered_at: datetime


@dataclass(frozen=True)
class MachineRiskItem:
    """Work a factory's machines no longer cover: the order, the factory and the week,
    for the operator to re-plan (the what-if of that factory and week)."""

    order_id: int
    order_title: str
    factory_id: int
    factory_name: str
    week: date


@dataclass
class OperatorAttention:
    to_verify: list[FactoryItem] = field(default_factory=list)
    disputes: list[DisputeItem] = field(default_factory=list)
    at_risk: list[OrderItem] = field(default_factory=list)
    machines_at_risk: list[MachineRiskItem] = field(default_factory=list)


def _item(
    order: Order, amount_minor: int | None = None, deadline: datetime | None = None
) -> OrderItem:
    return OrderItem(
        order_id=order.id or 0,
        title=order.title,
        state=order.state,
        due_date=order.due_date,
        currency=order.currency,
        amount_minor=amount_minor,
        deadline=deadline,
    )


def buyer_attention(
    session: Session, principal: Principal, settings: PaymentSettings
) -> BuyerAttention:
    states = (
        OrderState.AWAITING_PAYMENT,
        OrderState.SHIPPED,
        OrderState.DELIVERED,
        OrderState.CLOSED,
        OrderState.DRAFT,
        OrderState.OPEN,
        OrderState.MATCHING,
        OrderState.PROPOSED,
        OrderState.DISPUTED,
    )
    orders = session.exec(
        visible_orders(principal)
        .where(col(Order.state).in_(states))
        .order_by(col(Order.due_date), col(Order.id))
    ).all()
    rated = _rated_orders(session, principal.organization_id, [o.id or 0 for o in orders])
    attention = BuyerAttention()
    for order in orders:
        if order.state == OrderState.AWAITING_PAYMENT:
            total = sum(accepted_shares(session, order.id or 0).values())
            deadline = payment_deadline(order, settings)
            attention.to_pay.append(_item(order, amount_minor=total, deadline=deadline))
        elif order.state == OrderState.SHIPPED:
            attention.to_confirm.append(_item(order))
        elif order.state in (OrderState.DELIVERED, OrderState.CLOSED):
            if order.id not in rated:
                attention.to_rate.append(_item(order))
        elif order.state == OrderState.DRAFT:
            attention.drafts.append(_item(order))
        elif order.state == OrderState.DISPUTED:
            attention.disputed.append(_item(order))
        else:
            attention.with_factories.append(_item(order))
    for name in ("to_pay", "to_confirm", "to_rate", "drafts", "with_factories", "disputed"):
        setattr(attention, name, getattr(attention, name)[:SHOWN])
    return attention


def _rated_orders(session: Session, organization_id: int, order_ids: Sequence[int]) -> set[int]:
    if not order_ids:
        return set()
    return set(
        session.exec(
            select(Rating.order_id).where(
                Rating.from_organization_id == organization_id,
                col(Rating.order_id).in_(order_ids),
            )
        ).all()
    )


def factory_attention(session: Session, organization_id: int) -> FactoryAttention:
    rows = session.exec(
        select(Proposal, Order, Factory, OrderLine)
        .join(Order, col(Order.id) == Proposal.order_id)
        .join(Factory, col(Factory.id) == Proposal.factory_id)
        .join(OrderLine, col(OrderLine.id) == Proposal.order_line_id)
        .where(
            Factory.organization_id == organization_id,
            sa.or_(
                col(Proposal.state) == ProposalState.PENDING,
                sa.and_(
                    col(Proposal.state) == ProposalState.ACCEPTED,
                    col(Order.state).in_((OrderState.AWAITING_PAYMENT, *NOT_SHIPPED)),
                ),
            ),
        )
        .order_by(col(Proposal.expires_at), col(Order.due_date), col(Proposal.id))
    ).all()
    attention = FactoryAttention()
    for proposal, order, factory, line in rows:
        item = ProposalItem(
            proposal_id=proposal.id or 0,
            order_id=order.id or 0,
            order_title=order.title,
            factory_name=factory.name,
            process_code=line.process_code,
            hours=proposal.hours,
            price_minor=proposal.price_minor,
            currency=proposal.currency,
            expires_at=proposal.expires_at,
            due_date=order.due_date,
        )
        if proposal.state == ProposalState.PENDING:
            attention.pending.append(item)
        else:
            attention.in_hand.append(item)
    attention.in_hand.sort(key=lambda i: (i.due_date, i.order_id))
    attention.pending, attention.in_hand = attention.pending[:SHOWN], attention.in_hand[:SHOWN]
    return attention


def operator_attention(session: Session, today: date) -> OperatorAttention:
    factories = session.exec(
        select(Factory)
        .where(Factory.status == FactoryStatus.PENDING)
        .order_by(col(Factory.created_at), col(Factory.id))
        .limit(SHOWN)
    ).all()
    disputes = session.exec(
        select(Dispute, Order)
        .join(Order, col(Order.id) == Dispute.order_id)
        .where(Dispute.state == DisputeState.OPEN)
        .order_by(col(Dispute.created_at))
        .limit(SHOWN)
    ).all()
    at_risk = session.exec(
        select(Order)
        .where(
            col(Order.state).in_(NOT_SHIPPED),
            col(Order.due_date) <= today + AT_RISK_WITHIN,
        )
        .order_by(col(Order.due_date), col(Order.id))
        .limit(SHOWN)
    ).all()
    machines_at_risk = session.exec(
        select(Order, Factory, sa.func.min(col(CapacityBucket.point_in_time)))
        .join(Proposal, col(Proposal.order_id) == Order.id)
        .join(Factory, col(Factory.id) == Proposal.factory_id)
        .join(ProposalSlot, col(ProposalSlot.proposal_id) == Proposal.id)
        .join(CapacityBucket, col(CapacityBucket.id) == ProposalSlot.bucket_id)
        .where(
            col(Proposal.at_risk_at).is_not(None),
            col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
            col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
        )
        .group_by(col(Order.id), col(Factory.id))
        .order_by(sa.func.min(col(CapacityBucket.point_in_time)), col(Order.id))
        .limit(SHOWN)
    ).all()
    return OperatorAttention(
        machines_at_risk=[
            MachineRiskItem(o.id or 0, o.title, f.id or 0, f.name, week)
            for o, f, week in machines_at_risk
        ],
        to_verify=[FactoryItem(f.id or 0, f.name, f.country, f.created_at) for f in factories],
        disputes=[
            DisputeItem(d.id or 0, o.id or 0, o.title, d.reason, d.created_at) for d, o in disputes
        ],
        at_risk=[_item(o) for o in at_risk],
    )
