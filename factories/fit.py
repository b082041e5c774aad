"""Does a capability fit a line of work, how far is it, and what do its hours cost.

One rule each, used by the buyers' search and by matching eligibility alike, so that
search never hides a factory the engine would use (or shows one it would not):

* a part fits a capability's envelope in any axis-aligned orientation (sorted sizes
  compared pairwise); a size left open counts as the smallest;
* a capability holds a tolerance class if its own class is as fine or finer;
* a batch fits between the capability's minimum and maximum batch size;
* distance is the great-circle distance on the mean Earth radius, shipping takes a day
  per started 500 km, rounded up to whole weeks;
* the price of hours at an hourly rate is in whole minor units, rounded half up.

`FitTable`, `distances_km`, `lead_weeks_of` and `prices_minor` are the same rules over
many capabilities at once (numpy columns), for a national run's eligibility, where
each line is weighed against thousands of shops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

import numpy as np

from factories.taxonomy import TOLERANCE_CLASSES, tolerance_rank

# IUGG mean Earth radius.
EARTH_RADIUS_KM = 6371.0088
KM_PER_TRANSPORT_DAY = 500

ENVELOPE = "envelope"
TOLERANCE = "tolerance"
BATCH = "batch"


class CapabilityShape(Protocol):
    """What the fit rule reads of a capability (a `Capability` row has it all, and so
    has a read-only record of one)."""

    @property
    def max_length_mm(self) -> int: ...
    @property
    def max_width_mm(self) -> int: ...
    @property
    def max_height_mm(self) -> int: ...
    @property
    def tolerance_class(self) -> str: ...
    @property
    def batch_min(self) -> int: ...
    @property
    def batch_max(self) -> int: ...


@dataclass(frozen=True)
class Need:
    """What a line of work (or a search) asks of a capability; None asks nothing."""

    part_mm: Sequence[int | None] = ()
    tolerance_class: str | None = None
    quantity: int | None = None


def fits_envelope(part_mm: Sequence[int | None], envelope_mm: Sequence[int]) -> bool:
    """The part fits the envelope in some axis-aligned orientation."""
    sizes = sorted((size or 0 for size in part_mm), reverse=True)
    room = sorted(envelope_mm, reverse=True)
    if len(sizes) > len(room):
        return False
    return all(s <= r for s, r in zip(sizes, room, strict=False))


def holds_tolerance(capability_class: str, needed_class: str) -> bool:
    return tolerance_rank(capability_class) <= tolerance_rank(needed_class)


def classes_holding(needed_class: str) -> list[str]:
    """The tolerance classes that hold `needed_class` (for a query's prefilter)."""
    return [c for c in TOLERANCE_CLASSES if holds_tolerance(c, needed_class)]


def misfits(capability: CapabilityShape, need: Need) -> list[str]:
    """The checks the capability fails for this need (empty: it fits)."""
    failed = []
    envelope = (capability.max_length_mm, capability.max_width_mm, capability.max_height_mm)
    if need.part_mm and not fits_envelope(need.part_mm, envelope):
        failed.append(ENVELOPE)
    if need.tolerance_class is not None and not holds_tolerance(
        capability.tolerance_class, need.tolerance_class
    ):
        failed.append(TOLERANCE)
    if need.quantity is not None and not (
        capability.batch_min <= need.quantity <= capability.batch_max
    ):
        failed.append(BATCH)
    return failed


def fits(capability: CapabilityShape, need: Need) -> bool:
    return not misfits(capability, need)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def lead_weeks(km: float) -> int:
    """Shipping time in weeks: a day per started 500 km, rounded up to whole weeks."""
    days = math.ceil(km / KM_PER_TRANSPORT_DAY - 1e-9)
    return math.ceil(days / 7)


def price_minor(hours: Decimal | int | str, rate_minor: int) -> int:
    """What `hours` cost at `rate_minor` per hour, in whole minor units (half up)."""
    amount = Decimal(str(hours)) * rate_minor
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class FitTable:
    """`misfits` over many capabilities at once: `fitting(need)` is one boolean per
    capability, in the order they were given."""

    def __init__(self, shapes: Sequence[CapabilityShape]) -> None:
        envelopes = np.array(
            [(c.max_length_mm, c.max_width_mm, c.max_height_mm) for c in shapes], dtype=np.int64
        ).reshape(-1, 3)
        self.size = len(envelopes)
        self.room = -np.sort(-envelopes, axis=1)  # each envelope's sizes, largest first
        self.tolerance = np.array(
            [tolerance_rank(c.tolerance_class) for c in shapes], dtype=np.int64
        )
        self.batch_min = np.array([c.batch_min for c in shapes], dtype=np.int64)
        self.batch_max = np.array([c.batch_max for c in shapes], dtype=np.int64)

    def fitting(self, need: Need) -> np.ndarray:
        ok = np.ones(self.size, dtype=bool)
        if need.part_mm:
            sizes = sorted((size or 0 for size in need.part_mm), reverse=True)
            if len(sizes) > self.room.shape[1]:
                return np.zeros(self.size, dtype=bool)
            for axis, size in enumerate(sizes):
                ok &= self.room[:, axis] >= size
        if need.tolerance_class is not None:
            ok &= self.tolerance <= tolerance_rank(need.tolerance_class)
        if need.quantity is not None:
            ok &= (self.batch_min <= need.quantity) & (need.quantity <= self.batch_max)
        return ok


def distances_km(
    latitudes: np.ndarray, longitudes: np.ndarray, lat: float, lon: float
) -> np.ndarray:
    """`distance_km` from each (latitude, longitude) to one place."""
    phi1, phi2 = np.radians(latitudes), math.radians(lat)
    dphi, dlambda = phi2 - phi1, np.radians(lon - longitudes)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * math.cos(phi2) * np.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def lead_weeks_of(km: np.ndarray) -> np.ndarray:
    """`lead_weeks` of each distance."""
    days = np.ceil(km / KM_PER_TRANSPORT_DAY - 1e-9)
    return np.ceil(days / 7).astype(np.int64)


def prices_minor(hours: Decimal, rates_minor: np.ndarray) -> np.ndarray:
    """`price_minor` of the same hours at each rate."""
    cents = Decimal(str(hours)) * 100
    if cents == cents.to_integral_value() and rates_minor.size:
        # Whole cents of an hour (the hours columns' scale): exact in integers.
        return (int(cents) * rates_minor.astype(np.int64) + 50) // 100
    return np.array([price_minor(hours, int(rate)) for rate in rates_minor], dtype=np.int64)
