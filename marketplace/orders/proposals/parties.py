"""Who takes part in an order and what they hold: each proposal's slots, the factories'
organizations, the accepted proposals and each factory's share (what it is owed and, summed,
what the buyer pays), how the parties are told, and giving every held or booked hour back."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.models import Factory, among, id_column
from marketplace.orders.models import (
    Order,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.notify import events


def slots_of(session: Session, proposal_ids: list[int]) -> dict[int, list[ProposalSlot]]:
    result: dict[int, list[ProposalSlot]] = defaultdict(list)
    if proposal_ids:
        for slot in session.exec(
            select(ProposalSlot)
            .where(among(col(ProposalSlot.proposal_id), proposal_ids))
            .order_by(col(ProposalSlot.id))
        ).all():
            result[slot.proposal_id].append(slot)
    return result


def factory_organizations(session: Session, factory_ids: set[int]) -> dict[int, int]:
    if not factory_ids:
        return {}
    return dict(
        session.exec(
            select(id_column(Factory), Factory.organization_id).where(
                col(Factory.id).in_(sorted(factory_ids))
            )
        ).all()
    )


def tell_parties(
    session: Session,
    order: Order,
    event: str,
    proposals: list[Proposal],
    factory_orgs: dict[int, int],
    *,
    buyer_notice: str,
    factory_notice: str,
    **buyer_data: Any,
) -> None:
    """Notify and publish `event` to the buyer (every proposal, with `buyer_data`) and to
    each factory organization (its own proposals only: never another's work or prices)."""
    events.notify(
        session,
        [order.buyer_organization_id],
        buyer_notice,
        order_id=order.id,
        title=order.title,
        proposals=len(proposals),
    )
    events.publish(
        session,
        order.buyer_organization_id,
        event,
        {
            "order_id": order.id,
            "state": order.state,
            **buyer_data,
            "proposals": [proposal_data(p) for p in proposals],
        },
    )
    by_org: dict[int, list[Proposal]] = defaultdict(list)
    for p in proposals:
        by_org[factory_orgs[p.factory_id]].append(p)
    for organization_id, mine in sorted(by_org.items()):
        events.notify(
            session,
            [organization_id],
            factory_notice,
            order_id=order.id,
            title=order.title,
            proposals=len(mine),
        )
        events.publish(
            session,
            organization_id,
            event,
            {"order_id": order.id, "proposals": [proposal_data(p) for p in mine]},
        )


def proposal_data(proposal: Proposal) -> dict[str, Any]:
    return {
        "proposal_id": proposal.id,
        "order_line_id": proposal.order_line_id,
        "factory_id": proposal.factory_id,
        "state": proposal.state,
        "hours": str(proposal.hours),
        "price_minor": proposal.price_minor,
        "currency": proposal.currency,
        "expires_at": proposal.expires_at.isoformat(),
    }


def accepted_proposals(session: Session, order_id: int) -> list[Proposal]:
    return list(
        session.exec(
            select(Proposal)
            .where(Proposal.order_id == order_id, Proposal.state == ProposalState.ACCEPTED)
            .order_by(col(Proposal.id))
        ).all()
    )


def accepted_shares(session: Session, order_id: int) -> dict[int, int]:
    """Each factory's accepted price on the order (minor units): what it is owed, and,
    summed, what the buyer pays."""
    shares: dict[int, int] = defaultdict(int)
    for proposal in accepted_proposals(session, order_id):
        shares[proposal.factory_id] += proposal.price_minor
    return dict(shares)


def give_back(session: Session, order: Order, now: datetime) -> list[Proposal]:
    """Withdraw every pending or accepted proposal of the order, releasing its hours."""
    proposals = list(
        session.exec(
            select(Proposal)
            .where(
                Proposal.order_id == order.id,
                col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
            )
            .order_by(col(Proposal.id))
            .execution_options(populate_existing=True)
        ).all()
    )
    changes = []
    for proposal in proposals:
        for slot in session.exec(
            select(ProposalSlot)
            .where(
                ProposalSlot.proposal_id == proposal.id,
                col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
            )
            .execution_options(populate_existing=True)
        ).all():
            kind = ChangeKind.RELEASE if slot.state == SlotState.HELD else ChangeKind.UNBOOK
            changes.append(BucketChange(slot.bucket_id, kind, slot.hours))
            slot.state = SlotState.RELEASED
        proposal.state = ProposalState.WITHDRAWN
        proposal.decided_at = now
    apply_changes(session, changes)
    return proposals
