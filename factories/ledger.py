"""The ledger: every business event appended to one hash chain (docs/credit.md).

Each event's `hash` is SHA-256 over the canonical JSON of its fields and the hash of the
event before it (`prev_hash`; the first event's is 64 zeros):

    {"factory_id": ..., "kind": ..., "occurred_at": "2026-12-03T13:55:00.000000Z",
     "order_id": ..., "organization_id": ..., "payload": {...}, "prev_hash": "..."}

serialized with sorted keys, no spaces (`separators=(",", ":")`) and UTF-8 as is
(`ensure_ascii=False`). Only what survives a round trip through JSONB unchanged is
hashed: strings, integers, booleans and null, in objects and lists; a float is refused.

Appends are serialized (PostgreSQL: a transaction-level advisory lock taken before the
last hash is read; SQLite: the connection's write lock), so the chain's order is the id
order, and `prev_hash` is unique, so the chain cannot fork. Nothing here updates or
deletes an event; on PostgreSQL a trigger refuses both (migration 0013).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import LedgerEvent, table_of, utcnow

GENESIS = "0" * 64


class EventKind(StrEnum):
    """What the ledger records (docs/credit.md lists each kind's payload)."""

    ORDER_SUBMITTED = "order.submitted"
    PROPOSAL_ACCEPTED = "proposal.accepted"
    PROPOSAL_DECLINED = "proposal.declined"
    PROPOSAL_EXPIRED = "proposal.expired"
    PROPOSAL_WITHDRAWN = "proposal.withdrawn"
    ORDER_CONFIRMED = "order.confirmed"
    MILESTONE = "milestone.reported"
    DELIVERED = "delivery.made"
    QUALITY_ACCEPTED = "quality.accepted"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_RESOLVED = "dispute.resolved"
    ORDER_CANCELLED = "order.cancelled"
    RATING = "rating.given"
    PAID = "payment.captured"
    REFUNDED = "refund.made"
    PAID_OUT = "payout.sent"


# The advisory lock every append takes on PostgreSQL ("ledger" in ASCII).
LOCK_KEY = 0x6C6564676572


class LedgerValueError(ValueError):
    """A payload value that would not hash the same after a round trip (a float, ...)."""


def _check(value: Any, where: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerValueError(f"{where}: keys must be strings, not {key!r}")
            _check(item, f"{where}.{key}")
        return
    raise LedgerValueError(
        f"{where}: {type(value).__name__} cannot be hashed in the ledger "
        "(use strings or integers, e.g. basis points)"
    )


def stamp(moment: datetime) -> str:
    """The instant as hashed: UTC, microseconds, a final Z."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(document: Any) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def hashed_fields(event: LedgerEvent) -> dict[str, Any]:
    return {
        "factory_id": event.factory_id,
        "kind": event.kind,
        "occurred_at": stamp(event.occurred_at),
        "order_id": event.order_id,
        "organization_id": event.organization_id,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
    }


def hash_of(event: LedgerEvent) -> str:
    return hashlib.sha256(canonical(hashed_fields(event))).hexdigest()


def serialize_appends(session: Session) -> None:
    """Hold the lock that orders appends until this transaction ends."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))
    elif connection.dialect.name == "sqlite":
        # A write that changes no row takes SQLite's one write lock for the transaction.
        table = table_of(LedgerEvent)
        connection.execute(sa.delete(table).where(sa.false()))


def hold_referenced_rows(session: Session, events: Sequence[LedgerEvent]) -> None:
    """On PostgreSQL, take the key-share locks that inserting the events will need (the
    factory, order and organization each names) before the append lock: an insert then
    never waits, holding that lock, for a transaction that waits for it in turn."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for key in table_of(LedgerEvent).foreign_keys:
        ids = sorted({v for e in events if (v := getattr(e, key.parent.name)) is not None})
        if ids:
            target = key.column
            connection.execute(
                sa.select(target)
                .where(target.in_(ids))
                .order_by(target)
                .with_for_update(read=True, key_share=True)
            )


def last_hash(session: Session) -> str:
    found = session.exec(
        select(LedgerEvent.hash).order_by(col(LedgerEvent.id).desc()).limit(1)
    ).first()
    return found or GENESIS


def new_event(
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    factory_id: int | None = None,
    order_id: int | None = None,
    organization_id: int | None = None,
    occurred_at: datetime | None = None,
) -> LedgerEvent:
    """An event not yet in the chain (no hashes): checked, so that appending it cannot
    fail on its payload."""
    document = dict(payload or {})
    _check(document, "payload")
    return LedgerEvent(
        kind=kind,
        occurred_at=(occurred_at or utcnow()).astimezone(UTC),
        factory_id=factory_id,
        order_id=order_id,
        organization_id=organization_id,
        payload=document,
        prev_hash="",
        hash="",
    )


def append_all(session: Session, events: Sequence[LedgerEvent]) -> list[LedgerEvent]:
    """Chain the events, in their order, after the last one, in the session's
    transaction (they commit or roll back with the change they record). The lock is
    held from here to the end of the transaction: the marketplace appends just before it
    commits (marketplace/credit/records.py), so that the lock is held only briefly."""
    if not events:
        return []
    session.flush()
    hold_referenced_rows(session, events)
    serialize_appends(session)
    previous = last_hash(session)
    for event in events:
        event.prev_hash = previous
        # Hashed as stored: the database keeps microseconds, not beyond.
        event.hash = previous = hash_of(event)
        session.add(event)
    session.flush()
    return list(events)


def append(
    session: Session,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    factory_id: int | None = None,
    order_id: int | None = None,
    organization_id: int | None = None,
    occurred_at: datetime | None = None,
) -> LedgerEvent:
    """Append one event now."""
    event = new_event(
        kind,
        payload,
        factory_id=factory_id,
        order_id=order_id,
        organization_id=organization_id,
        occurred_at=occurred_at,
    )
    return append_all(session, [event])[0]


@dataclass(frozen=True)
class Break:
    """The first event that does not hold: its id and what is wrong with it."""

    event_id: int
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "problem": self.problem}


def events_in_order(session: Session, batch: int = 1000) -> Iterator[LedgerEvent]:
    after = 0
    while True:
        rows = session.exec(
            select(LedgerEvent)
            .where(col(LedgerEvent.id) > after)
            .order_by(col(LedgerEvent.id))
            .limit(batch)
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id or after


@dataclass(frozen=True)
class Verification:
    events: int
    last_hash: str
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(session: Session) -> Verification:
    """Walk the chain in id order: each event must link to the one before and hash to
    what it says. The first that does not is named (changed payload, link or hash; an
    event removed shows as the next one's broken link)."""
    previous = GENESIS
    count = 0
    for event in events_in_order(session):
        count += 1
        event_id = event.id or 0
        if event.prev_hash != previous:
            return Verification(count, previous, Break(event_id, "link"))
        try:
            expected = hash_of(event)
        except (LedgerValueError, TypeError, ValueError):
            return Verification(count, previous, Break(event_id, "content"))
        if expected != event.hash:
            return Verification(count, previous, Break(event_id, "content"))
        previous = event.hash
    return Verification(count, previous, None)


def first_broken(session: Session) -> int | None:
    broken = verify(session).broken
    return None if broken is None else broken.event_id


def event_with_hash(session: Session, value: str) -> LedgerEvent | None:
    return session.exec(select(LedgerEvent).where(LedgerEvent.hash == value)).first()


def events_of_factory(session: Session, factory_id: int) -> list[LedgerEvent]:
    return list(
        session.exec(
            select(LedgerEvent)
            .where(LedgerEvent.factory_id == factory_id)
            .order_by(col(LedgerEvent.id))
        ).all()
    )
