"""Making a what-if outage real (the operator applies it), in the caller's transaction.

1. The pending proposals holding lost hours are superseded and their holds released
   (`factories.capacity.booking`), under the lock of their orders.
2. The lost weeks are closed on the calendar of each lost factory
   (`factories.capacity.calendar.close_week`: the maximum drops to what stays booked), so
   no later run offers them; the factory's capacity freshness is left as it was.
3. One re-match run (`marketplace.orders.runs.service.start_run`) re-plans the proposed
   orders concerned, keeping their other pending proposals where they are.

Accepted work of orders awaiting payment or confirmed, and orders in production, keep
their bookings: they are listed for the operator to settle with the parties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.capacity.calendar import close_week, factory_resources
from factories.models import Factory, id_of
from marketplace.operator.whatif.service import IN_PRODUCTION, REPLANNED, hit_work
from marketplace.operator.whatif.target import Outage
from marketplace.orders.models import (
    MatchRunKind,
    OrderState,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.runs.service import start_run


@dataclass
class Applied:
    run_id: int | None = None
    rematched_orders: list[int] = field(default_factory=list)
    superseded_proposals: list[int] = field(default_factory=list)
    closed_weeks: int = 0
    to_handle: list[int] = field(default_factory=list)  # accepted or in production

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
    locked = {id_of(o): o for o in lock_orders(session, sorted(orders))}
    changes: list[BucketChange] = []
    rematch = []
    for order_id, order in locked.items():
        pending = [p for p in hit.proposals[order_id] if p.state == ProposalState.PENDING]
        accepted = [p for p in hit.proposals[order_id] if p.state == ProposalState.ACCEPTED]
        if accepted or order.state in IN_PRODUCTION or order.state not in REPLANNED:
            applied.to_handle.append(order_id)
        if order.state != OrderState.PROPOSED or not pending:
            continue
        for proposal in pending:
            for slot in session.exec(
                select(ProposalSlot).where(
                    ProposalSlot.proposal_id == proposal.id, ProposalSlot.state == SlotState.HELD
                )
            ).all():
                slot.state = SlotState.RELEASED
                changes.append(BucketChange(slot.bucket_id, ChangeKind.RELEASE, slot.hours))
            proposal.state = ProposalState.SUPERSEDED
            proposal.decided_at = now
            proposal.decision_note = f"capacity closed by the operator: {outage.label}"[:500]
            applied.superseded_proposals.append(id_of(proposal))
        rematch.append(order)
    apply_changes(session, changes)
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
