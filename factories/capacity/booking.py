"""Booking capacity: hold, release and confirm hours of capacity buckets atomically.

A bucket's `booked_hours` counts every hour sold or offered; `held_hours` is the part of
it offered in proposals that are not yet accepted. Each change is one conditional
UPDATE, so the database decides under its row lock whether the hours still fit:
concurrent holds on the same bucket serialize there, and the one that would over-book
simply does not happen (the caller learns it from the row count). A batch of changes
runs in bucket-id order so that two transactions never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from factories.capacity.hours import free_hours_sql, quantize_hours
from factories.models import CapacityBucket, table_of


class BookingError(RuntimeError):
    """Books that do not add up: releasing or confirming more than a bucket holds."""


class ChangeKind(StrEnum):
    HOLD = "hold"  # booked += h, held += h, only if h <= free hours
    CONFIRM = "confirm"  # held -= h (the hours stay booked)
    RELEASE = "release"  # booked -= h, held -= h: give back a hold
    UNBOOK = "unbook"  # booked -= h: give back confirmed hours (e.g. a cancellation)


# Within one bucket, give back before taking, so a move inside a bucket always fits.
_ORDER = {ChangeKind.RELEASE: 0, ChangeKind.UNBOOK: 0, ChangeKind.CONFIRM: 1, ChangeKind.HOLD: 2}


@dataclass(frozen=True)
class BucketChange:
    bucket_id: int
    kind: ChangeKind
    hours: Decimal


_table = table_of(CapacityBucket)
_booked, _held = _table.c.booked_hours, _table.c.held_hours
_h = sa.bindparam("h", type_=sa.Numeric(10, 2))
_id = sa.bindparam("bucket_id", type_=sa.Integer)


# Every new figure is rounded to the cent in the statement itself: PostgreSQL's numeric
# is exact anyway, but SQLite keeps hours as binary floats, whose sums drift (29.2 - 14.6
# is 14.599999999999998) until a bucket seems to hold less than it does.
def _cents(value: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.round(value, 2)


_STATEMENTS = {
    ChangeKind.HOLD: sa.update(_table)
    .where(_table.c.id == _id, _cents(free_hours_sql(_table.c)) >= _h)
    .values(booked_hours=_cents(_booked + _h), held_hours=_cents(_held + _h)),
    ChangeKind.CONFIRM: sa.update(_table)
    .where(_table.c.id == _id, _cents(_held) >= _h)
    .values(held_hours=_cents(_held - _h)),
    ChangeKind.RELEASE: sa.update(_table)
    .where(_table.c.id == _id, _cents(_held) >= _h, _cents(_booked) >= _h)
    .values(booked_hours=_cents(_booked - _h), held_hours=_cents(_held - _h)),
    ChangeKind.UNBOOK: sa.update(_table)
    .where(_table.c.id == _id, _cents(_booked - _held) >= _h)
    .values(booked_hours=_cents(_booked - _h)),
}


def apply_changes(session: Session, changes: Sequence[BucketChange]) -> list[bool]:
    """Apply every change, in bucket-id order; result i tells whether change i happened.

    A hold that no longer fits is skipped (False). A release, unbook or confirm that
    finds fewer hours than it gives back means the books are wrong: BookingError.
    """
    results = [False] * len(changes)
    order = sorted(
        range(len(changes)), key=lambda i: (changes[i].bucket_id, _ORDER[changes[i].kind])
    )
    for i in order:
        change = changes[i]
        hours = quantize_hours(change.hours)
        if hours <= 0:
            raise BookingError(f"bucket {change.bucket_id}: {change.kind} of {hours} hours")
        result = session.exec(
            _STATEMENTS[change.kind], params={"bucket_id": change.bucket_id, "h": hours}
        )
        done = result.rowcount == 1
        if not done and change.kind != ChangeKind.HOLD:
            raise BookingError(f"bucket {change.bucket_id}: cannot {change.kind} {hours} hours")
        results[i] = done
    # The ORM may have loaded these buckets before; make it read them again.
    touched = {c.bucket_id for c in changes}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CapacityBucket) and obj.id in touched:
            session.expire(obj)
    return results


def hold(session: Session, bucket_id: int, hours: Decimal) -> bool:
    """Book `hours` tentatively if they still fit; False (and nothing changed) if not."""
    return apply_changes(session, [BucketChange(bucket_id, ChangeKind.HOLD, hours)])[0]


def release(session: Session, bucket_id: int, hours: Decimal) -> None:
    apply_changes(session, [BucketChange(bucket_id, ChangeKind.RELEASE, hours)])


def confirm(session: Session, bucket_id: int, hours: Decimal) -> None:
    apply_changes(session, [BucketChange(bucket_id, ChangeKind.CONFIRM, hours)])
