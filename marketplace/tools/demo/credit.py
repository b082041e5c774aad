"""The demo's credit, earned: the ledger history of its seeded orders (proposals accepted,
orders confirmed, milestones, deliveries on time or late, work accepted or disputes
lost), appended through the ledger like any event, and each factory's score computed
from it. Each factory has a drawn reliability that makes its history, not its score.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from factories import ledger
from factories.credit.service import refresh_all
from factories.ledger import EventKind
from marketplace.orders.models import Order, OrderState, Proposal, ProposalState

K = EventKind
CONFIRMED_OR_LATER = (
    OrderState.CONFIRMED,
    OrderState.IN_PRODUCTION,
    OrderState.SHIPPED,
    OrderState.DELIVERED,
    OrderState.CLOSED,
    OrderState.DISPUTED,
)
DONE = (OrderState.DELIVERED, OrderState.CLOSED)


@dataclass
class _Event:
    at: datetime
    kind: EventKind
    order_id: int
    factory_id: int | None
    payload: dict[str, Any]


def _history(
    rng: random.Random, reliability: float, order: Order, proposal: Proposal, now: datetime
) -> list[_Event]:
    """What happened to one accepted proposal, day by day up to where its order is."""
    due = datetime.combine(order.due_date, time(12), tzinfo=UTC)
    started = min(order.created_at + timedelta(days=2), now)
    at = [started + timedelta(hours=h) for h in (1, 3)]
    fid, oid = proposal.factory_id, int(order.id or 0)
    common = {"proposal_id": proposal.id, "hours": str(proposal.hours)}
    events = [
        _Event(
            at[0],
            K.PROPOSAL_ACCEPTED,
            oid,
            fid,
            {**common, "price_minor": proposal.price_minor, "currency": proposal.currency},
        ),
        _Event(
            at[1],
            K.ORDER_CONFIRMED,
            oid,
            fid,
            {"price_minor": proposal.price_minor, "currency": proposal.currency},
        ),
    ]
    if order.state not in DONE:
        return events
    late_days = 0 if rng.random() < reliability else rng.randint(1, 9)
    shipped = min(due - timedelta(days=rng.randint(1, 4)) + timedelta(days=late_days), now)
    events.append(
        _Event(
            shipped,
            K.DELIVERED,
            oid,
            fid,
            {
                "due_date": order.due_date.isoformat(),
                "shipped_on": shipped.date().isoformat(),
                "timeliness": "late" if shipped.date() > order.due_date else "on_time",
                "days_late": max(0, (shipped.date() - order.due_date).days),
            },
        )
    )
    accepted_at = min(shipped + timedelta(days=3), now)
    if rng.random() < (1 - reliability) * 0.6:
        outcome = rng.choice(("buyer_won", "partial", "factory_won"))
        events.append(_Event(accepted_at, K.DISPUTE_RESOLVED, oid, fid, {"outcome": outcome}))
    else:
        events.append(_Event(accepted_at, K.QUALITY_ACCEPTED, oid, fid, {"how": "confirmed"}))
    return events


def seed_credit(
    session: Session, rng: random.Random, factories: list[dict[str, Any]], now: datetime
) -> int:
    """Append the history of the seeded orders to the ledger, oldest first, and compute
    every factory's score from it; returns how many events."""
    reliability = {f["id"]: rng.betavariate(8, 2) for f in factories}
    rows = session.exec(
        select(Proposal, Order)
        .join(Order, col(Order.id) == col(Proposal.order_id))
        .where(
            Proposal.state == ProposalState.ACCEPTED,
            col(Order.state).in_(CONFIRMED_OR_LATER),
            col(Proposal.factory_id).in_(sorted(reliability)),
        )
        .order_by(col(Proposal.id))
    ).all()
    events: list[_Event] = []
    for proposal, order in rows:
        events.extend(_history(rng, reliability[proposal.factory_id], order, proposal, now))
    for event in sorted(events, key=lambda e: (e.at, e.order_id, e.factory_id or 0)):
        ledger.append(
            session,
            event.kind,
            event.payload,
            order_id=event.order_id,
            factory_id=event.factory_id,
            occurred_at=event.at,
        )
    refresh_all(session, now)
    return len(events)
