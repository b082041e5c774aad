"""Work put at risk by a factory's machines (docs/telemetry.md, "Booked hours are safe").

Telemetry never releases booked hours: where a machine's report would take a week's
maximum below what is booked or held, the maximum stays at the booked hours and the
proposals holding hours of that week are marked at risk. The buyer of each order and the
operators are told once per proposal, in the notifications (the outbox of
`marketplace.orders.notify.events`); the factory sees it in its calendar.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from factories.capacity.floor import Shortfall
from factories.capacity.hours import hours_text
from factories.capacity.weeks import week_label
from factories.models import Factory, id_of
from marketplace.orders.models import (
    Order,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.notify import events
from marketplace.orders.production.disputes import operator_organizations

LIVE_PROPOSALS = (ProposalState.PENDING, ProposalState.ACCEPTED)
LIVE_SLOTS = (SlotState.HELD, SlotState.CONFIRMED)


def mark_at_risk(
    session: Session, factory: Factory, shortfalls: list[Shortfall], now: datetime
) -> list[Proposal]:
    """Mark the live proposals holding hours of the short cells; tell each order's buyer
    and the operators, once per proposal. Returns the proposals newly marked."""
    by_bucket = {s.bucket_id: s for s in shortfalls}
    if not by_bucket:
        return []
    rows = session.exec(
        select(Proposal, ProposalSlot.bucket_id)
        .join(ProposalSlot, col(ProposalSlot.proposal_id) == col(Proposal.id))
        .where(
            col(ProposalSlot.bucket_id).in_(sorted(by_bucket)),
            col(ProposalSlot.state).in_(LIVE_SLOTS),
            col(Proposal.state).in_(LIVE_PROPOSALS),
            col(Proposal.at_risk_at).is_(None),
            Proposal.factory_id == factory.id,
        )
        .order_by(col(Proposal.id))
    ).all()
    marked: dict[int, tuple[Proposal, Shortfall]] = {}
    for proposal, bucket_id in rows:
        marked.setdefault(id_of(proposal), (proposal, by_bucket[bucket_id]))
    if not marked:  # all told already: the usual case while machines stay short
        return []
    operators = operator_organizations(session)
    for proposal, shortfall in marked.values():
        proposal.at_risk_at = now
        session.add(proposal)
        order = session.get(Order, proposal.order_id)
        if order is None:
            continue
        events.notify(
            session,
            [order.buyer_organization_id, *operators],
            "order.at_risk",
            order_id=order.id,
            title=order.title,
            factory=factory.name,
            process=shortfall.resource,
            week=week_label(shortfall.week),
            short_hours=hours_text(shortfall.short_hours),
        )
    session.flush()
    return [p for p, _ in marked.values()]


def at_risk_orders(session: Session, order_ids: list[int]) -> set[int]:
    """Those of the orders with a live proposal at risk."""
    if not order_ids:
        return set()
    return set(
        session.exec(
            select(Proposal.order_id).where(
                col(Proposal.order_id).in_(order_ids),
                col(Proposal.at_risk_at).is_not(None),
                col(Proposal.state).in_(LIVE_PROPOSALS),
            )
        ).all()
    )
