"""Scales that turn the problem's float hours, costs and priorities into integers."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

MAX_DECIMALS = 6  # scales tried for hours and costs: 1, 10, ..., 10**MAX_DECIMALS
PRIORITY_DECIMALS = 6
# Largest total of capacity units, of cost units and of fill units an instance may
# have: keeps CP-SAT's objectives (read back as doubles) and the ejection chains'
# float64 matrices exact. A finer scale that would pass it is given up for a coarser,
# inexact one.
UNIT_LIMIT = 2**50


def decimal_scale(
    values: Iterable[float], max_decimals: int, max_scale: int | None = None
) -> tuple[int, bool]:
    """Smallest 10**k (k <= max_decimals, 10**k <= max_scale) making all values
    integral, read as the decimals they print as, and whether there is one; without one,
    the finest scale allowed."""
    decimals = max((_decimals(v) for v in set(values) if v), default=0)
    finest = max_decimals
    if max_scale is not None:
        while finest > 0 and 10**finest > max_scale:
            finest -= 1
    if decimals <= finest:
        return 10**decimals, True
    return 10**finest, False


def _decimals(value: float) -> int:
    """Decimal places of a float as written: repr is the shortest form reading back as
    it, the JSON text for any number with up to 15 significant digits."""
    mantissa, _, exponent = repr(float(value)).partition("e")
    places = len(mantissa.partition(".")[2].rstrip("0"))
    return max(0, places - int(exponent or 0))


def scale_limit(total: float, multiplier: int) -> int:
    """Largest scale keeping `total` x scale x multiplier within UNIT_LIMIT."""
    return max(1, int(UNIT_LIMIT // (max(total, 1.0) * multiplier)))


class Scaled:
    """Numbers in units of 1/scale: exact integers when the scale is exact, else exact
    decimals (each float read as the decimal it was written as) to be rounded as needed."""

    def __init__(self, scale: int, exact: bool):
        self.scale = scale
        self.exact = exact

    @classmethod
    def fitting(
        cls, values: Iterable[float], max_decimals: int, total: float, multiplier: int
    ) -> Scaled:
        """The scale of `decimal_scale` for `values`, within `scale_limit(total, ...)`."""
        return cls(*decimal_scale(values, max_decimals, scale_limit(total, multiplier)))

    def of(self, value: float) -> int | Decimal:
        if self.exact:
            return round(value * self.scale)  # integral up to float noise, far below 0.5
        return Decimal(repr(float(value))) * self.scale

    def units(self, value: int | Decimal, rounding: str) -> int:
        if isinstance(value, int):
            return value
        return int(value.to_integral_value(rounding=rounding))

    def zero(self) -> int | Decimal:
        """The sum of no values, in the type `of` gives."""
        return 0 if self.exact else Decimal(0)
