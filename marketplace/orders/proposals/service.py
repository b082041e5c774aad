"""The factories' answers to proposals, and where an order stands after them.

Every path that changes the proposals of an order first locks the order row (in id
order when there are several), so accepting, declining, expiring, cancelling and
applying a run's plan never interleave on one order; capacity itself changes through
`factories.capacity.booking`, whose conditional updates make over-booking impossible even across
orders.

* Accepting confirms the held hours; declining or expiring releases them and starts a
  re-match of the order (or asks the run in flight to start one when it ends).
* When nothing is pending any more, the order waits for its payment if every hour is
  accepted, and goes back to open otherwise (`settling`).
* Cancelling gives back every hour the order holds or booked.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.errors import N_, Conflict
from factories.ledger import EventKind
from factories.models import too_long, utcnow
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.orders import access, signals
from marketplace.orders.errors import OrderError
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
from marketplace.orders.posting.service import buyer_step, lock_orders, touch
from marketplace.orders.proposals.parties import (
    factory_organizations,
    give_back,
)
from marketplace.orders.proposals.settling import settle
from marketplace.orders.runs.service import start_run

# --- the factories' answers ---------------------------------------------------------------


def _locked(session: Session, proposal: Proposal) -> tuple[Order, Proposal]:
    [order] = lock_orders(session, [proposal.order_id])
    fresh = session.exec(
        select(Proposal).where(Proposal.id == proposal.id).execution_options(populate_existing=True)
    ).one()
    return order, fresh


def _held_slots(session: Session, proposal: Proposal, state: SlotState) -> list[ProposalSlot]:
    return list(
        session.exec(
            select(ProposalSlot)
            .where(ProposalSlot.proposal_id == proposal.id, ProposalSlot.state == state)
            .order_by(col(ProposalSlot.bucket_id))
            .execution_options(populate_existing=True)
        ).all()
    )


def accept(
    session: Session, principal: Principal, proposal_id: int, now: datetime | None = None
) -> Proposal:
    now = now or utcnow()
    order, proposal = _locked(session, access.own_proposal(session, principal, proposal_id))
    if proposal.state != ProposalState.PENDING:
        raise Conflict(N_("the proposal is already %(state)s", state=proposal.state))
    if proposal.expires_at <= now:
        raise Conflict(N_("the deadline to answer this proposal has passed"))
    slots = _held_slots(session, proposal, SlotState.HELD)
    apply_changes(session, [BucketChange(s.bucket_id, ChangeKind.CONFIRM, s.hours) for s in slots])
    for slot in slots:
        slot.state = SlotState.CONFIRMED
    proposal.state = ProposalState.ACCEPTED
    proposal.decided_at = now
    records.proposals(session, EventKind.PROPOSAL_ACCEPTED, [proposal])
    events.notify(
        session,
        [order.buyer_organization_id],
        "proposal.accepted",
        order_id=order.id,
        title=order.title,
        proposal_id=proposal.id,
    )
    if order.state == OrderState.PROPOSED:
        settle(session, order)
    session.flush()
    return proposal


def decline(
    session: Session,
    principal: Principal,
    proposal_id: int,
    note: str = "",
    now: datetime | None = None,
) -> Proposal:
    now = now or utcnow()
    note = note.strip()
    if message := too_long(note, Proposal, "decision_note"):
        raise OrderError("note", message)
    order, proposal = _locked(session, access.own_proposal(session, principal, proposal_id))
    if proposal.state != ProposalState.PENDING:
        raise Conflict(N_("the proposal is already %(state)s", state=proposal.state))
    _refuse(session, order, [proposal], ProposalState.DECLINED, now, note=note)
    return proposal


def _refuse(
    session: Session,
    order: Order,
    proposals: list[Proposal],
    state: ProposalState,
    now: datetime,
    note: str = "",
) -> None:
    """Decline or expire pending proposals of one (locked) order and re-match their work."""
    changes = []
    for proposal in proposals:
        for slot in _held_slots(session, proposal, SlotState.HELD):
            slot.state = SlotState.RELEASED
            changes.append(BucketChange(slot.bucket_id, ChangeKind.RELEASE, slot.hours))
        proposal.state = state
        proposal.decided_at = now
        proposal.decision_note = note
    apply_changes(session, changes)
    records.proposals(
        session,
        EventKind.PROPOSAL_DECLINED
        if state == ProposalState.DECLINED
        else EventKind.PROPOSAL_EXPIRED,
        proposals,
    )
    kind = "proposal.declined" if state == ProposalState.DECLINED else "proposal.expired"
    # The factory's reason for declining is for the buyer to read.
    said = {"note": note} if note else {}
    events.notify(
        session,
        [order.buyer_organization_id],
        kind,
        order_id=order.id,
        title=order.title,
        proposals=len(proposals),
        **said,
    )
    if state == ProposalState.EXPIRED:
        factory_orgs = factory_organizations(session, {p.factory_id for p in proposals})
        events.notify(
            session,
            factory_orgs.values(),
            "proposal.expired",
            order_id=order.id,
            title=order.title,
            proposals=len(proposals),
        )
    if order.state == OrderState.PROPOSED:
        start_run(
            session,
            [order],
            kind=MatchRunKind.REMATCH,
            organization_id=order.buyer_organization_id,
        )
    elif order.state == OrderState.MATCHING:
        order.rematch_requested = True
    session.flush()


def expire_due(
    session: Session,
    now: datetime | None = None,
    limit: int = 500,
    order_id: int | None = None,
) -> int:
    """Expire pending proposals past their deadline, order by order (or of one order);
    returns how many."""
    now = now or utcnow()
    query = select(Proposal.order_id).where(
        Proposal.state == ProposalState.PENDING, Proposal.expires_at <= now
    )
    if order_id is not None:
        query = query.where(Proposal.order_id == order_id)
    due = session.exec(query.distinct().limit(limit)).all()
    if not due:
        return 0
    expired = 0
    for order in lock_orders(session, list(due)):
        proposals = list(
            session.exec(
                select(Proposal)
                .where(
                    Proposal.order_id == order.id,
                    Proposal.state == ProposalState.PENDING,
                    Proposal.expires_at <= now,
                )
                .order_by(col(Proposal.id))
                .execution_options(populate_existing=True)
            ).all()
        )
        if proposals:
            _refuse(session, order, proposals, ProposalState.EXPIRED, now)
            expired += len(proposals)
    return expired


def withdraw_all(session: Session, order: Order, now: datetime) -> int:
    """The buyer cancelled: give back every hour the order holds or booked."""
    proposals = give_back(session, order, now)
    records.proposals(session, EventKind.PROPOSAL_WITHDRAWN, proposals, by="buyer", why="cancelled")
    factory_orgs = factory_organizations(session, {p.factory_id for p in proposals})
    events.notify(
        session, factory_orgs.values(), "order.cancelled", order_id=order.id, title=order.title
    )
    return len(proposals)


def cancel_order(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer cancels before production: every held or booked hour goes back (and
    money paid goes back: `signals.order_cancelled`)."""
    order = buyer_step(session, principal, order_id)
    state = order.state
    touch(order, OrderState.CANCELLED)
    records.order_cancelled(session, order, state)
    now = utcnow()
    withdraw_all(session, order, now)
    signals.order_cancelled.send(order, session=session, now=now)
    return order
