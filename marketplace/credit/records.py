"""What the marketplace writes to the ledger: one function per business event, called by
the service that makes the change, in its transaction (so the web, the API, the CLI,
workers and the simulation all record alike). A factory's credit score is refreshed in the
same transaction when the event counts for it (factories/credit/score.py).

The events of a transaction wait in the session and are chained when it commits (the
session's `before_commit`), in the order they were recorded: the lock that serializes
appends is then held for the commit alone, not for the whole unit of work, and each
factory's score is computed once however many of its events the transaction wrote. A
transaction rolled back drops them with everything else.

Payloads hold strings and integers only (hours as decimal strings, money in minor
units): docs/credit.md lists each kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, select

from factories import ledger
from factories.credit.score import counts
from factories.credit.service import lock_factories, refresh
from factories.ledger import EventKind
from factories.models import LedgerEvent

K = EventKind


class OrderLike(Protocol):
    @property
    def id(self) -> int | None: ...

    buyer_organization_id: int
    currency: str
    due_date: date


class ProposalLike(Protocol):
    @property
    def id(self) -> int | None: ...

    factory_id: int
    order_id: int
    hours: Decimal
    price_minor: int
    currency: str


PENDING = "marketplace.credit.pending_events"


def record(
    session: Session,
    kind: EventKind,
    *,
    order_id: int | None = None,
    factory_id: int | None = None,
    organization_id: int | None = None,
    **payload: Any,
) -> LedgerEvent:
    """The event, appended to the ledger when the session commits."""
    event = ledger.new_event(
        kind,
        payload,
        factory_id=factory_id,
        order_id=order_id,
        organization_id=organization_id,
    )
    session.info.setdefault(PENDING, []).append(event)
    return event


def append_pending(session: OrmSession) -> list[LedgerEvent]:
    """Refresh the scores the session's waiting events change, then chain the events.

    The scores first, each factory's row held (`lock_factories`), outside the lock that
    serializes appends: that lock is then held only to read the last hash and insert."""
    events: list[LedgerEvent] = session.info.pop(PENDING, [])
    if not events or not isinstance(session, Session):
        return []
    session.flush()
    factory_ids = sorted({e.factory_id for e in events if counts(e.kind) and e.factory_id})
    if factory_ids:
        lock_factories(session, factory_ids)
        for factory_id in factory_ids:
            refresh(session, factory_id, waiting=[e for e in events if e.factory_id == factory_id])
        session.flush()
    ledger.append_all(session, events)
    return events


def _drop_pending(session: OrmSession, transaction: SessionTransaction) -> None:
    """The session's transaction ended without a commit (rolled back, or the session
    closed): its waiting events go with it."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


# Every session of the process: requests, commands, workers, tests alike.
sa_event.listen(OrmSession, "before_commit", append_pending)
sa_event.listen(OrmSession, "after_transaction_end", _drop_pending)


def order_submitted(session: Session, order: OrderLike, lines: int) -> None:
    record(
        session,
        K.ORDER_SUBMITTED,
        order_id=order.id,
        organization_id=order.buyer_organization_id,
        lines=lines,
        due_date=order.due_date.isoformat(),
        currency=order.currency,
    )


def proposals(
    session: Session, kind: EventKind, items: Iterable[ProposalLike], **extra: Any
) -> None:
    """Accepted, declined, expired or withdrawn: one event per proposal."""
    for proposal in items:
        record(
            session,
            kind,
            order_id=proposal.order_id,
            factory_id=proposal.factory_id,
            proposal_id=proposal.id,
            hours=str(proposal.hours),
            price_minor=proposal.price_minor,
            currency=proposal.currency,
            **extra,
        )


def order_confirmed(session: Session, order: OrderLike, shares: Mapping[int, int]) -> None:
    """Paid and confirmed: one event per factory with its share of the price."""
    for factory_id, share in sorted(shares.items()):
        record(
            session,
            K.ORDER_CONFIRMED,
            order_id=order.id,
            factory_id=factory_id,
            price_minor=share,
            currency=order.currency,
        )


def confirmed_factories(session: Session, order_id: int) -> set[int]:
    """Factories whose confirmation on the order is recorded (or waits in the session)."""
    waiting = {
        e.factory_id
        for e in session.info.get(PENDING, [])
        if e.kind == K.ORDER_CONFIRMED and e.order_id == order_id and e.factory_id
    }
    recorded = session.exec(
        select(LedgerEvent.factory_id).where(
            LedgerEvent.kind == K.ORDER_CONFIRMED, LedgerEvent.order_id == order_id
        )
    ).all()
    return waiting | {f for f in recorded if f is not None}


def order_cancelled(session: Session, order: OrderLike, state: str) -> None:
    record(
        session,
        K.ORDER_CANCELLED,
        order_id=order.id,
        organization_id=order.buyer_organization_id,
        by="buyer",
        state_before=state,
    )


def milestone(session: Session, order_id: int, factory_id: int, kind: str) -> None:
    record(session, K.MILESTONE, order_id=order_id, factory_id=factory_id, milestone=kind)


def timeliness(due: date, shipped: date) -> tuple[str, int]:
    """On time when shipped on or before the due date; else late, by how many days."""
    late = (shipped - due).days
    return ("on_time", 0) if late <= 0 else ("late", late)


def delivered(
    session: Session,
    order: OrderLike,
    shipped_on: Mapping[int, datetime],
    how: str,
) -> None:
    """Delivered (the buyer confirmed, or the dispute window closed): per factory, whether
    it shipped by the due date, and its work accepted."""
    for factory_id, moment in sorted(shipped_on.items()):
        verdict, days = timeliness(order.due_date, moment.date())
        record(
            session,
            K.DELIVERED,
            order_id=order.id,
            factory_id=factory_id,
            due_date=order.due_date.isoformat(),
            shipped_on=moment.date().isoformat(),
            timeliness=verdict,
            days_late=days,
        )
        record(session, K.QUALITY_ACCEPTED, order_id=order.id, factory_id=factory_id, how=how)


def dispute_opened(
    session: Session, order_id: int, dispute_id: int, factory_ids: Iterable[int]
) -> None:
    for factory_id in sorted(set(factory_ids)):
        record(
            session,
            K.DISPUTE_OPENED,
            order_id=order_id,
            factory_id=factory_id,
            dispute_id=dispute_id,
        )


def dispute_resolved(
    session: Session, order_id: int, dispute_id: int, outcomes: Mapping[int, str]
) -> None:
    """Per factory: `factory_won` (nothing refunded), `buyer_won` (all of its share
    refunded), `partial`, or `settled` (no money decided)."""
    for factory_id, outcome in sorted(outcomes.items()):
        record(
            session,
            K.DISPUTE_RESOLVED,
            order_id=order_id,
            factory_id=factory_id,
            dispute_id=dispute_id,
            outcome=outcome,
        )


def outcome_of(refunded: int, share: int) -> str:
    if refunded <= 0:
        return "factory_won"
    if refunded >= share:
        return "buyer_won"
    return "partial"


def rating(
    session: Session, order_id: int, factory_id: int | None, organization_id: int, score: int
) -> None:
    """A rating given: of a factory by the buyer (factory_id set), or of the buyer."""
    record(
        session,
        K.RATING,
        order_id=order_id,
        factory_id=factory_id,
        organization_id=organization_id,
        score=score,
    )


def money(
    session: Session,
    kind: EventKind,
    order_id: int,
    amount_minor: int,
    currency: str,
    factory_id: int | None = None,
    **extra: Any,
) -> None:
    """Paid, refunded or paid out."""
    record(
        session,
        kind,
        order_id=order_id,
        factory_id=factory_id,
        amount_minor=amount_minor,
        currency=currency,
        **extra,
    )
