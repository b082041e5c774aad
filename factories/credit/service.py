"""A factory's credit from its ledger events, and the cached `Factory.credit_score` that
search and eligibility read: refreshed in the transaction of every event that counts,
and for everyone by `factoryweb credit refresh` (older events weigh less as months pass)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.credit.score import COUNTING_KINDS, Fact, Standing, Tally, month_index, standing
from factories.models import Factory, LedgerEvent, id_column, utcnow


def facts_of(session: Session, factory_id: int, up_to: int | None = None) -> list[Fact]:
    """The factory's events that count for its score (plain rows, not ORM objects: a
    score is computed at every commit that records one)."""
    query = sa.select(
        id_column(LedgerEvent),
        col(LedgerEvent.kind),
        col(LedgerEvent.occurred_at),
        col(LedgerEvent.order_id),
        col(LedgerEvent.payload),
    ).where(
        col(LedgerEvent.factory_id) == factory_id,
        col(LedgerEvent.kind).in_(sorted(COUNTING_KINDS)),
    )
    if up_to is not None:
        query = query.where(col(LedgerEvent.id) <= up_to)
    return [
        Fact(
            event_id=event_id,
            kind=kind,
            month=month_index(occurred_at),
            order_id=order_id,
            payload=payload,
        )
        for event_id, kind, occurred_at, order_id, payload in session.execute(
            query.order_by(col(LedgerEvent.id))
        ).all()
    ]


def fact_of(event: LedgerEvent) -> Fact:
    """An event as the score sees it (one not yet in the ledger has no id: 0)."""
    return Fact(
        event_id=event.id or 0,
        kind=event.kind,
        month=month_index(event.occurred_at),
        order_id=event.order_id,
        payload=event.payload,
    )


def standing_of(
    session: Session,
    factory_id: int,
    now: datetime | None = None,
    waiting: Sequence[LedgerEvent] = (),
) -> Standing:
    """The factory's standing from its events in the ledger and those `waiting` to be
    appended in this transaction."""
    facts = facts_of(session, factory_id) + [fact_of(e) for e in waiting]
    return standing(Tally.of(facts), month_index(now or utcnow()))


def lock_factories(session: Session, factory_ids: Sequence[int]) -> None:
    """Hold the factories' rows to the end of the transaction (in id order): two
    transactions recording events of one factory compute its score one after the other,
    the second from the first's events."""
    session.exec(
        select(id_column(Factory))
        .where(col(Factory.id).in_(sorted(set(factory_ids))))
        .order_by(col(Factory.id))
        # FOR NO KEY UPDATE: it waits for another score's computation, never for (nor
        # blocks) the key-share lock an insert referring to the factory takes.
        .with_for_update(key_share=True)
    ).all()


def refresh(
    session: Session,
    factory_id: int,
    now: datetime | None = None,
    waiting: Sequence[LedgerEvent] = (),
) -> float:
    """Recompute the factory's score from its events (and those waiting to be appended)
    and cache it on the factory."""
    factory = session.get(Factory, factory_id)
    if factory is None:
        return 0.0
    score = standing_of(session, factory_id, now, waiting).score
    if factory.credit_score != score:
        factory.credit_score = score
        session.add(factory)
    return score


def refresh_all(session: Session, now: datetime | None = None) -> int:
    """Every factory's score again (as months pass, older events weigh less); how many
    changed."""
    changed = 0
    for factory_id in session.exec(select(id_column(Factory)).order_by(col(Factory.id))).all():
        factory = session.get_one(Factory, factory_id)
        before = factory.credit_score
        if refresh(session, factory_id, now) != before:
            changed += 1
    return changed
