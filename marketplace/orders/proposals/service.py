"""The factories' answers to proposals, and where an order stands after them.

Every path that changes the proposals of an order first locks the order row (in id
order when there are several), so accepting, declining, expiring, cancelling and
applying a run's plan never interleave on one order; capacity itself changes through
`factories.capacity.booking`, whose conditional updates make over-booking impossible even across
orders.

* Accepting confirms the held hours; declining or expiring releases them and starts a
  re-match of the order (or asks the run in flight to start one when it ends).
* When nothing is pending any more, the order is confirmed if every hour is accepted,
  and goes back to open otherwise.
* Cancelling gives back every hour the order holds or booked.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.errors import N_, Conflict
from factories.models import Factory, id_column, id_of, too_long, utcnow
from marketplace.accounts.service import Principal
from marketplace.orders import access, signals
from marketplace.orders.coverage import coverage
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    MatchRun,
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
from marketplace.orders.runs.service import start_run
from marketplace.orders.transitions import move

log = logging.getLogger(__name__)


def slots_of(session: Session, proposal_ids: list[int]) -> dict[int, list[ProposalSlot]]:
    result: dict[int, list[ProposalSlot]] = defaultdict(list)
    if proposal_ids:
        for slot in session.exec(
            select(ProposalSlot)
            .where(col(ProposalSlot.proposal_id).in_(proposal_ids))
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


# --- settling an order ---


def settle_after_run(
    session: Session, orders: list[Order], run: MatchRun, attempt: int = 0
) -> None:
    """After a run (or its failure): start the re-match that a decline, or holds refused
    by a concurrent booking, asked for; settle the other orders."""
    for order in orders:
        if order.rematch_requested:
            follow_up = start_run(
                session,
                [order],
                kind=MatchRunKind.REMATCH,
                organization_id=order.buyer_organization_id,
                time_limit_s=run.time_limit_s,
                requeue=True,
            )
            follow_up.outcome = {"attempt": attempt}
        else:
            settle(session, order)


def settle(session: Session, order: Order) -> None:
    """Put a matching or proposed order where its proposals say it is."""
    lines = coverage(session, [id_of(order)]).values()
    if any(c.pending for c in lines):
        target = OrderState.PROPOSED
    elif all(c.accepted >= c.hours for c in lines):
        target = OrderState.AWAITING_PAYMENT
    else:
        target = OrderState.OPEN
    if order.state == target:
        return
    move(order, target)
    order.updated_at = utcnow()
    if target == OrderState.AWAITING_PAYMENT:
        _request_payment(session, order)
    elif target == OrderState.OPEN:
        unplaced = sum((c.unplaced for c in lines), Decimal(0))
        events.notify(
            session,
            [order.buyer_organization_id],
            "order.unplaced",
            order_id=order.id,
            title=order.title,
            hours=str(unplaced),
        )


def _request_payment(session: Session, order: Order) -> None:
    """Every hour is accepted: the buyer is asked to pay (the payments area holds the
    money and keeps the deadline); the factories learn their work waits for it."""
    order.payment_requested_at = utcnow()
    accepted = accepted_proposals(session, id_of(order))
    events.notify(
        session,
        [order.buyer_organization_id],
        "order.awaiting_payment",
        order_id=order.id,
        title=order.title,
        price_minor=sum(p.price_minor for p in accepted),
        currency=order.currency,
    )
    events.notify(
        session,
        factory_organizations(session, {p.factory_id for p in accepted}).values(),
        "order.awaiting_payment_factory",
        order_id=order.id,
        title=order.title,
    )


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


def confirm_paid(session: Session, order: Order, now: datetime) -> None:
    """The (locked) order is paid for: confirmed, and every party told."""
    move(order, OrderState.CONFIRMED)
    order.updated_at = order.confirmed_at = now
    proposals = accepted_proposals(session, id_of(order))
    tell_parties(
        session,
        order,
        events.ORDER_CONFIRMED,
        proposals,
        factory_organizations(session, {p.factory_id for p in proposals}),
        buyer_notice="order.confirmed",
        factory_notice="order.confirmed",
        price_minor=sum(p.price_minor for p in proposals),
        currency=order.currency,
    )


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
    kind = "proposal.declined" if state == ProposalState.DECLINED else "proposal.expired"
    events.notify(
        session,
        [order.buyer_organization_id],
        kind,
        order_id=order.id,
        title=order.title,
        proposals=len(proposals),
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
    proposals = _give_back(session, order, now)
    factory_orgs = factory_organizations(session, {p.factory_id for p in proposals})
    events.notify(
        session, factory_orgs.values(), "order.cancelled", order_id=order.id, title=order.title
    )
    return len(proposals)


def release_unpaid(session: Session, order: Order, now: datetime) -> int:
    """The (locked) order was not paid by its deadline: every booked hour goes back to
    its factory, the factories and the buyer are told, and the order is open again."""
    proposals = _give_back(session, order, now)
    move(order, OrderState.OPEN)
    order.updated_at = now
    order.payment_requested_at = None
    factory_orgs = factory_organizations(session, {p.factory_id for p in proposals})
    events.notify(
        session, factory_orgs.values(), "order.unpaid", order_id=order.id, title=order.title
    )
    events.notify(
        session,
        [order.buyer_organization_id],
        "order.payment_expired",
        order_id=order.id,
        title=order.title,
    )
    return len(proposals)


def _give_back(session: Session, order: Order, now: datetime) -> list[Proposal]:
    """Withdraw every pending or accepted proposal of the order, releasing its hours."""
    proposals = list(
        session.exec(
            select(Proposal)
            .where(
                Proposal.order_id == order.id,
                col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
            )
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


def cancel_order(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer cancels before production: every held or booked hour goes back (and
    money paid goes back: `signals.order_cancelled`)."""
    order = buyer_step(session, principal, order_id)
    touch(order, OrderState.CANCELLED)
    now = utcnow()
    withdraw_all(session, order, now)
    signals.order_cancelled.send(order, session=session, now=now)
    return order
