"""A factory's credit from its ledger events, and the cached `Factory.credit_score` that
search and eligibility read: refreshed in the transaction of every event that counts,
and for everyone by `factoryweb credit refresh` (older events weigh less as months pass)."""

from __future__ import annotations

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
    ).where(LedgerEvent.factory_id == factory_id, col(LedgerEvent.kind).in_(sorted(COUNTING_KINDS)))
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


def standing_of(session: Session, factory_id: int, now: datetime | None = None) -> Standing:
    return standing(Tally.of(facts_of(session, factory_id)), month_index(now or utcnow()))


def refresh(session: Session, factory_id: int, now: datetime | None = None) -> float:
    """Recompute the factory's score from its events and cache it on the factory."""
    factory = session.get(Factory, factory_id)
    if factory is None:
        return 0.0
    score = standing_of(session, factory_id, now).score
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
