"""Making a what-if outage real (the operator applies it), in the caller's transaction.

1. The work the outage hits is taken off the lost capacity, under the lock of its
   orders: pending proposals holding lost hours are superseded and their holds released;
   accepted proposals too, with their booked hours given back, when their order is not
   paid for yet (proposed, or awaiting payment with no payment in flight: a payment only
   requested is canceled, and the order is open again until the re-match).
2. The lost weeks are closed on the calendar of each lost factory
   (`factories.capacity.calendar.close_week`: the maximum drops to what stays booked), so
   no later run offers them; the factory's capacity freshness is left as it was.
3. One re-match run (`marketplace.orders.runs.service.start_run`) re-plans those orders,
   keeping their other proposals where they are.

Paid orders (confirmed), orders in production and orders with a payment in flight or a
run in flight keep their bookings: they are listed for the operator to settle with the
parties, since moving paid work changes what the buyer paid for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.capacity.calendar import close_week, factory_resources
from factories.models import Factory, id_of
from marketplace.operator.whatif.service import hit_work
from marketplace.operator.whatif.target import Outage
from marketplace.orders.models import (
    MatchRunKind,
    Order,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.notify import events
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.parties import factory_organizations
from marketplace.orders.runs.service import start_run
from marketplace.orders.transitions import move
from marketplace.payments.charges import IN_FLIGHT, payments_of
from marketplace.payments.models import PaymentState

MOVABLE = (OrderState.PROPOSED, OrderState.AWAITING_PAYMENT)


@dataclass
class Applied:
    run_id: int | None = None
    rematched_orders: list[int] = field(default_factory=list)
    superseded_proposals: list[int] = field(default_factory=list)
    closed_weeks: int = 0
    to_handle: list[int] = field(default_factory=list)  # paid, in production, in flight

    def as_json(self) -> dict[str, object]:
        return {
            "run": self.run_id,
            "rematched_orders": self.rematched_orders,
            "superseded_proposals": self.superseded_proposals,
            "closed_buckets": self.closed_weeks,
            "orders_to_handle": self.to_handle,
        }


def apply_outage(session: Session, outage: Outage, today: date, now: datetime) -> Applied:
    applied = Applied()
    orders, hit = hit_work(session, outage)
    changes: list[BucketChange] = []
    superseded: list[Proposal] = []
    rematch = []
    for order in lock_orders(session, sorted(orders)):
        order_id = id_of(order)
        if not _movable(session, order):
            applied.to_handle.append(order_id)
            continue
        for proposal in hit.proposals[order_id]:
            changes += _take_off(session, proposal, now, outage.label)
            superseded.append(proposal)
            applied.superseded_proposals.append(id_of(proposal))
        if order.state == OrderState.AWAITING_PAYMENT:
            move(order, OrderState.OPEN)
            order.payment_requested_at = None
        order.updated_at = now
        rematch.append(order)
    apply_changes(session, changes)
    _tell_factories(session, superseded)
    for factory in session.exec(
        select(Factory).where(col(Factory.id).in_(outage.factory_ids)).order_by(col(Factory.id))
    ).all():
        if not factory_resources(session, id_of(factory)):
            continue
        freshness = factory.capacity_updated_at
        for week in outage.weeks:
            close_week(session, factory, week, today, now)
            applied.closed_weeks += 1
        factory.capacity_updated_at = freshness
    if rematch:
        run = start_run(session, rematch, kind=MatchRunKind.REMATCH)
        applied.run_id = id_of(run)
        applied.rematched_orders = [id_of(o) for o in rematch]
    session.flush()
    return applied


def _movable(session: Session, order: Order) -> bool:
    """Not paid for, no payment in flight, no run in flight; a payment only requested is
    canceled (the buyer is asked again for the new total once the work is re-placed)."""
    if order.state not in MOVABLE:
        return False
    if order.state == OrderState.AWAITING_PAYMENT:
        payments = payments_of(session, id_of(order))
        if any(p.state in IN_FLIGHT for p in payments):
            return False
        for payment in payments:
            if payment.state == PaymentState.REQUESTED:
                payment.state = PaymentState.CANCELED
    return True


def _take_off(
    session: Session, proposal: Proposal, now: datetime, label: str
) -> list[BucketChange]:
    """Supersede the proposal and give its hours back (held, or booked if accepted)."""
    held = proposal.state == ProposalState.PENDING
    state, kind = (
        (SlotState.HELD, ChangeKind.RELEASE) if held else (SlotState.CONFIRMED, ChangeKind.UNBOOK)
    )
    changes = []
    for slot in session.exec(
        select(ProposalSlot).where(
            ProposalSlot.proposal_id == proposal.id, ProposalSlot.state == state
        )
    ).all():
        slot.state = SlotState.RELEASED
        changes.append(BucketChange(slot.bucket_id, kind, slot.hours))
    proposal.state = ProposalState.SUPERSEDED
    proposal.decided_at = now
    proposal.decision_note = f"capacity closed by the operator: {label}"[:500]
    return changes


def _tell_factories(session: Session, proposals: list[Proposal]) -> None:
    """Each factory hears that its proposal was withdrawn (as after any re-match)."""
    organizations = factory_organizations(session, {p.factory_id for p in proposals})
    for proposal in proposals:
        events.notify(
            session,
            [organizations[proposal.factory_id]],
            "proposal.superseded",
            order_id=proposal.order_id,
            proposal_id=proposal.id,
        )
