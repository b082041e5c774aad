"""Maximum hours set by something other than the owner (machine telemetry): what cannot
go below the hours booked stays at them instead of being refused.

The owner's calendar refuses a maximum below the booked hours (`set_capacity` says by how
much). A machine that breaks down cannot be refused, yet nothing booked may be released
by it: the maximum stays at the booked (and held) hours, and the caller learns which
cells fell short, to tell the people whose work is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from factories.capacity.calendar import CapacityChange, lock_buckets, set_capacity
from factories.models import CapacityBucket, Factory, id_of

# How often a calendar that machines keep unchanged is marked as checked.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Shortfall:
    """A cell whose maximum should have fallen below its booked hours."""

    bucket_id: int
    resource: str
    week: date
    wanted_hours: Decimal
    booked_hours: Decimal

    @property
    def short_hours(self) -> Decimal:
        return self.booked_hours - self.wanted_hours


def set_capacity_not_below_booked(
    session: Session,
    factory: Factory,
    changes: list[CapacityChange],
    today: date,
    now: datetime,
    *,
    locked: Mapping[tuple[str, date], CapacityBucket] | None = None,
    resources: list[str] | None = None,
) -> list[Shortfall]:
    """Apply `changes` through `set_capacity`, each maximum raised to the booked hours
    where it would fall below them; those cells come back as shortfalls. Cells whose
    maximum does not change are not written. `locked` and `resources` as for
    `set_capacity`: rows the caller already locked, the factory's resources."""
    existing = (
        locked
        if locked is not None
        else lock_buckets(session, id_of(factory), [(c.resource, c.week) for c in changes])
    )
    shortfalls, written = [], []
    for change in changes:
        bucket = existing.get((change.resource, change.week))
        booked = Decimal(bucket.booked_hours) if bucket is not None else Decimal(0)
        maximum = change.maximum_hours
        if bucket is not None and maximum < booked:
            shortfalls.append(
                Shortfall(id_of(bucket), change.resource, change.week, maximum, booked)
            )
            maximum = booked
        if bucket is not None and Decimal(bucket.maximum_hours) == maximum:
            continue
        written.append(replace(change, maximum_hours=maximum, actual_hours=None))
    if written:
        set_capacity(session, factory, written, today, now, locked=existing, resources=resources)
    elif factory.capacity_updated_at is None or now - factory.capacity_updated_at > TOUCH_EVERY:
        factory.capacity_updated_at = now
        session.add(factory)
    return shortfalls
