"""Where an order stands after its proposals: still proposed while any is pending; when
every hour is accepted, waiting for the buyer's payment (the payments area takes it and
confirms the order, `confirm_paid`, or gives the hours back at the deadline,
`release_unpaid`; an order whose payment it still holds, paid work re-placed after an
outage, it confirms at once); open again when hours are left unplaced."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from factories.ledger import EventKind
from factories.models import id_of, utcnow
from marketplace.credit import records
from marketplace.orders import signals
from marketplace.orders.coverage import Coverage, coverage, coverage_by_order
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    Order,
    OrderState,
)
from marketplace.orders.notify import events
from marketplace.orders.proposals.parties import (
    accepted_proposals,
    accepted_shares,
    factory_organizations,
    give_back,
    tell_parties,
)
from marketplace.orders.runs.service import start_run
from marketplace.orders.transitions import move


def settle_after_run(
    session: Session,
    orders: list[Order],
    run: MatchRun,
    attempt: int = 0,
    covered: dict[int, dict[int, Coverage]] | None = None,
) -> None:
    """After a run (or its failure): start the re-match that a decline, or holds refused
    by a concurrent booking, asked for; settle the other orders (`covered`: their
    coverage by order, when the caller has it already)."""
    if covered is None:
        covered = coverage_by_order(session, [id_of(o) for o in orders if not o.rematch_requested])
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
            settle(session, order, covered[id_of(order)].values())


def settle(session: Session, order: Order, lines: Iterable[Coverage] | None = None) -> None:
    """Put a matching or proposed order where its proposals say it is (`lines`: the
    coverage of its lines, when the caller has it already)."""
    lines = list(coverage(session, [id_of(order)]).values() if lines is None else lines)
    if any(c.pending for c in lines):
        target = OrderState.PROPOSED
    elif all(c.accepted >= c.hours for c in lines):
        target = OrderState.AWAITING_PAYMENT
    else:
        target = OrderState.OPEN
    if order.state == target:
        return
    move(order, target)
    order.updated_at = now = utcnow()
    if target == OrderState.AWAITING_PAYMENT:
        signals.order_fully_accepted.send(order, session=session, now=now)
        if order.state == OrderState.AWAITING_PAYMENT:  # not paid already
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


def confirm_paid(session: Session, order: Order, now: datetime) -> None:
    """The (locked) order is paid for: confirmed, and every party told."""
    move(order, OrderState.CONFIRMED)
    again = order.confirmed_at is not None  # paid work re-placed after an outage
    order.updated_at = order.confirmed_at = now
    proposals = accepted_proposals(session, id_of(order))
    shares = accepted_shares(session, id_of(order))
    if again:  # a factory's confirmation counts once per order
        confirmed = records.confirmed_factories(session, id_of(order))
        shares = {f: s for f, s in shares.items() if f not in confirmed}
    records.order_confirmed(session, order, shares)
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


def release_unpaid(session: Session, order: Order, now: datetime) -> int:
    """The (locked) order was not paid by its deadline: every booked hour goes back to
    its factory, the factories and the buyer are told, and the order is open again."""
    proposals = give_back(session, order, now)
    records.proposals(session, EventKind.PROPOSAL_WITHDRAWN, proposals, by="buyer", why="unpaid")
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
