"""Hours of capacity: Decimal with two places, how they read, and what is free.

Free hours are the one rule the calendar, search, the landing page, booking and
matching eligibility share: the maximum of a bucket less the hours booked on it. Hours
held by proposals are part of the booked hours; a caller about to replace those
proposals (a re-match) counts them as free again. `free_hours` says it for values in
Python, `free_hours_sql` for columns in a query.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from factories.errors import N_

# Hours one resource (all machines of one process) can offer in one week.
MAX_WEEK_HOURS = Decimal(10_000)
HOURS_PLACES = Decimal("0.01")
NO_HOURS = Decimal("0.00")


def free_hours(maximum: Decimal, booked: Decimal, reclaimed_held: Decimal = NO_HOURS) -> Decimal:
    """Hours still on offer in a bucket: the maximum less what is booked.

    `reclaimed_held` are hours of this bucket held by proposals that the caller is about
    to replace; they count as free, since the replacement may hand them out again.
    """
    return maximum - booked + reclaimed_held


def free_hours_sql(buckets: Any) -> sa.ColumnElement[Decimal]:
    """The same rule on the columns of `buckets`: the CapacityBucket model, an alias of
    it, or the `capacity_bucket` table's columns (`table.c`)."""
    return buckets.maximum_hours - buckets.booked_hours


def quantize_hours(hours: Decimal | float | str) -> Decimal:
    """Hours rounded half up to two places."""
    return Decimal(str(hours)).quantize(HOURS_PLACES, rounding=ROUND_HALF_UP)


def parse_hours(value: object) -> Decimal:
    """Hours as Decimal with at most two places; ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError(N_("must be a number of hours"))
    try:
        hours = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(N_("must be a number of hours")) from error
    if not hours.is_finite():
        raise ValueError(N_("must be a number of hours"))
    if abs(hours) > MAX_WEEK_HOURS:  # also keeps quantize within the decimal context
        raise ValueError(N_("must be between 0 and %(maximum)s hours", maximum=MAX_WEEK_HOURS))
    if hours != hours.quantize(HOURS_PLACES, rounding=ROUND_HALF_UP):
        raise ValueError(N_("has more than two decimal places"))
    return hours.quantize(HOURS_PLACES)


def hours_text(hours: Decimal) -> str:
    """`40` for 40.00, `12.5` for 12.50: how hours read in messages."""
    text = f"{hours.quantize(HOURS_PLACES):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
