"""How much of each order line is accepted, offered in pending proposals, and unplaced:
what matching places next, and where an order stands."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from factories.models import among, id_of
from marketplace.orders.models import OrderLine, Proposal, ProposalSlot, ProposalState, SlotState

# Per order line: its pending proposals, each with the slots it holds.
PendingWork = dict[int, list[tuple[Proposal, list[ProposalSlot]]]]


def work_of_lines(
    session: Session, order_ids: Sequence[int], reopened: Collection[int] = ()
) -> tuple[dict[int, Decimal], PendingWork]:
    """Accepted hours per line, and each line's pending proposals with their held slots.

    `reopened`: ids of accepted proposals to count as pending instead, with their booked
    slots (an operator's what-if outage re-plans accepted work not yet in production)."""
    accepted: dict[int, Decimal] = defaultdict(Decimal)
    pending: PendingWork = defaultdict(list)
    if not order_ids:
        return accepted, pending
    proposals = session.exec(
        select(Proposal)
        .where(
            among(col(Proposal.order_id), order_ids),
            col(Proposal.state).in_((ProposalState.ACCEPTED, ProposalState.PENDING)),
        )
        .order_by(col(Proposal.id))
    ).all()
    slots: dict[int, list[ProposalSlot]] = defaultdict(list)
    pending_ids = [
        id_of(p) for p in proposals if p.state == ProposalState.PENDING or p.id in reopened
    ]
    if pending_ids:
        for slot in session.exec(
            select(ProposalSlot)
            .where(
                among(col(ProposalSlot.proposal_id), pending_ids),
                col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
            )
            .order_by(col(ProposalSlot.id))
        ).all():
            slots[slot.proposal_id].append(slot)
    for proposal in proposals:
        if proposal.state == ProposalState.ACCEPTED and proposal.id not in reopened:
            accepted[proposal.order_line_id] += proposal.hours
        else:
            pending[proposal.order_line_id].append((proposal, slots[id_of(proposal)]))
    return accepted, pending


@dataclass(frozen=True)
class Coverage:
    """Hours of one order line: ordered, accepted, offered in pending proposals, unplaced."""

    hours: Decimal
    accepted: Decimal
    pending: Decimal

    @property
    def unplaced(self) -> Decimal:
        return max(Decimal(0), self.hours - self.accepted - self.pending)


def coverage(session: Session, order_ids: list[int]) -> dict[int, Coverage]:
    """Per line of the orders, how much of its work is accepted, pending and unplaced."""
    return {
        line_id: covered
        for lines in coverage_by_order(session, order_ids).values()
        for line_id, covered in lines.items()
    }


def coverage_by_order(session: Session, order_ids: list[int]) -> dict[int, dict[int, Coverage]]:
    """`coverage`, per order: {order id: {line id: coverage}}."""
    accepted, pending = work_of_lines(session, order_ids)
    result: dict[int, dict[int, Coverage]] = {order_id: {} for order_id in order_ids}
    for line in session.exec(select(OrderLine).where(among(col(OrderLine.order_id), order_ids))):
        result.setdefault(line.order_id, {})[id_of(line)] = Coverage(
            hours=line.hours,
            accepted=accepted.get(id_of(line), Decimal(0)),
            pending=sum((p.hours for p, _ in pending.get(id_of(line), [])), Decimal(0)),
        )
    return result
