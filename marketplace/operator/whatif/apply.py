"""Making a what-if outage real (the operator applies it), in the caller's transaction.

1. The work the outage hits is taken off the lost capacity, under the lock of its
   orders, for every order not in production and with no run or payment in flight:
   pending proposals holding lost hours are superseded and their holds released;
   accepted proposals holding lost hours are withdrawn (`by` the operator in the ledger,
   which does not count against the factory's credit) and all their booked hours given
   back, in the lost weeks and the others alike. On an unpaid order a payment only
   requested is canceled and the order is open again until the re-match; on a paid one
   (`confirmed`, or paid work already being re-placed) the payment stays held, and each
   line keeps what the buyer paid for it (`OrderLine.paid_price_minor`), the most its
   re-placed work may cost (docs/payments.md: the difference is refunded once every hour
   is accepted again).
2. The lost weeks are closed on the calendar of each lost factory
   (`factories.capacity.bulk.close_weeks`: the maximum drops to what stays booked), so
   no later run offers them; the factory's capacity freshness is left as it was.
3. One re-match run (`marketplace.orders.runs.service.start_run`) re-plans those orders,
   keeping their other proposals where they are.

Orders in production, and orders with a payment or a run in flight, keep their bookings:
they are listed for the operator to settle with the parties. Work already shipped keeps
its bookings and is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.capacity.bulk import close_weeks
from factories.capacity.calendar import factory_resources
from factories.capacity.weeks import week_label
from factories.ledger import EventKind
from factories.models import Factory, id_of
from marketplace.credit import records
from marketplace.operator.whatif.service import hit_work
from marketplace.operator.whatif.target import Outage
from marketplace.orders.models import (
    MatchRunKind,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.notify import events
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.parties import factory_organizations
from marketplace.orders.runs.ceilings import accepted_prices
from marketplace.orders.runs.service import start_run
from marketplace.orders.transitions import move
from marketplace.payments.charges import IN_FLIGHT, captured_payment, payments_of
from marketplace.payments.models import PaymentState

# Work already made (shipped or later): its bookings stay and there is nothing to move.
MADE = (
    OrderState.SHIPPED,
    OrderState.DELIVERED,
    OrderState.DISPUTED,
    OrderState.CLOSED,
    OrderState.CANCELLED,
)
MOVABLE = (OrderState.OPEN, OrderState.PROPOSED, OrderState.AWAITING_PAYMENT, OrderState.CONFIRMED)


@dataclass
class Applied:
    run_id: int | None = None
    rematched_orders: list[int] = field(default_factory=list)
    superseded_proposals: list[int] = field(default_factory=list)
    closed_weeks: int = 0
    withdrawn_proposals: list[int] = field(default_factory=list)  # accepted work taken off
    paid_orders: list[int] = field(default_factory=list)  # re-placed, the payment held
    to_handle: list[int] = field(default_factory=list)  # in production, in flight

    def as_json(self) -> dict[str, object]:
        return {
            "run": self.run_id,
            "rematched_orders": self.rematched_orders,
            "superseded_proposals": self.superseded_proposals,
            "withdrawn_proposals": self.withdrawn_proposals,
            "paid_orders": self.paid_orders,
            "closed_buckets": self.closed_weeks,
            "orders_to_handle": self.to_handle,
        }


def apply_outage(session: Session, outage: Outage, today: date, now: datetime) -> Applied:
    applied = Applied()
    orders, hit = hit_work(session, outage)
    changes: list[BucketChange] = []
    taken_off: list[Proposal] = []
    rematch = []
    live = sorted(oid for oid, o in orders.items() if o.state not in MADE)
    for order in lock_orders(session, live):
        order_id = id_of(order)
        if not _movable(session, order):
            applied.to_handle.append(order_id)
            continue
        if captured_payment(session, order_id) is not None:
            _keep_paid_prices(session, order_id, hit.proposals[order_id])
            applied.paid_orders.append(order_id)
        for proposal in hit.proposals[order_id]:
            withdrawn = proposal.state == ProposalState.ACCEPTED
            changes += _take_off(session, proposal, now, outage.label)
            taken_off.append(proposal)
            (applied.withdrawn_proposals if withdrawn else applied.superseded_proposals).append(
                id_of(proposal)
            )
        if order.state == OrderState.AWAITING_PAYMENT:
            move(order, OrderState.OPEN)
            order.payment_requested_at = None
        order.updated_at = now
        rematch.append(order)
    apply_changes(session, changes)
    records.proposals(
        session,
        EventKind.PROPOSAL_WITHDRAWN,
        [p for p in taken_off if p.state == ProposalState.WITHDRAWN],
        by="operator",
        why="outage",
    )
    _tell_parties(
        session, taken_off, [o for o in rematch if id_of(o) in applied.paid_orders], outage
    )
    for factory in session.exec(
        select(Factory).where(col(Factory.id).in_(outage.factory_ids)).order_by(col(Factory.id))
    ).all():
        if not factory_resources(session, id_of(factory)):
            continue
        freshness = factory.capacity_updated_at
        close_weeks(session, factory, list(outage.weeks), today, now)
        applied.closed_weeks += len(outage.weeks)
        factory.capacity_updated_at = freshness
    if rematch:
        run = start_run(session, rematch, kind=MatchRunKind.REMATCH)
        applied.run_id = id_of(run)
        applied.rematched_orders = [id_of(o) for o in rematch]
    session.flush()
    return applied


def _keep_paid_prices(session: Session, order_id: int, hit: list[Proposal]) -> None:
    """Each line losing paid work keeps what the buyer paid for it (once: a line already
    being re-placed keeps the price of its first payment)."""
    prices = accepted_prices(session, [order_id])
    for line_id in sorted({p.order_line_id for p in hit if p.state == ProposalState.ACCEPTED}):
        line = session.get_one(OrderLine, line_id)
        if line.paid_price_minor is None:
            line.paid_price_minor = prices[line_id]


def _movable(session: Session, order: Order) -> bool:
    """Not in production, no payment in flight, no run in flight; an unpaid order's payment
    only requested is canceled (the buyer is asked again for the new total once the work
    is re-placed)."""
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
    """A pending proposal is superseded, its holds released; an accepted one is withdrawn
    and all its booked hours given back."""
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
    proposal.state = ProposalState.SUPERSEDED if held else ProposalState.WITHDRAWN
    proposal.decided_at = now
    proposal.decision_note = f"capacity closed by the operator: {label}"[:500]
    return changes


def _tell_parties(
    session: Session, proposals: list[Proposal], paid: list[Order], outage: Outage
) -> None:
    """Each factory hears that its proposal or accepted work was withdrawn; the buyer of a
    paid order, that its work is being placed elsewhere with the payment held."""
    organizations = factory_organizations(session, {p.factory_id for p in proposals})
    titles = dict(
        session.exec(
            select(Order.id, Order.title).where(
                col(Order.id).in_(sorted({p.order_id for p in proposals}))
            )
        ).all()
    )
    for proposal in proposals:
        if proposal.state == ProposalState.WITHDRAWN:
            events.notify(
                session,
                [organizations[proposal.factory_id]],
                "proposal.withdrawn_by_operator",
                order_id=proposal.order_id,
                proposal_id=proposal.id,
                title=titles.get(proposal.order_id, ""),
                from_week=week_label(outage.first),
                to_week=week_label(outage.last),
            )
        else:
            events.notify(
                session,
                [organizations[proposal.factory_id]],
                "proposal.superseded",
                order_id=proposal.order_id,
                proposal_id=proposal.id,
            )
    for order in paid:
        events.notify(
            session,
            [order.buyer_organization_id],
            "order.replanned",
            order_id=order.id,
            title=order.title,
        )
