"""The arithmetic of the money, in integer minor units: the platform's fee, what each
factory is paid, and an order's books (captured - refunded - transferred - fees = held,
never below 0, and 0 once the order is closed)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

BASIS_POINTS = 10_000


def fee_minor(amount_minor: int, fee_bps: int) -> int:
    """The platform's fee on an amount, rounded half up to the minor unit."""
    fee = Decimal(amount_minor) * fee_bps / BASIS_POINTS
    return int(fee.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PayoutFigures:
    share_minor: int  # the factory's accepted price
    refunded_minor: int  # what the buyer got back of it
    fee_minor: int  # the platform's fee on the rest
    amount_minor: int  # what is transferred


def payout_figures(share_minor: int, refunded_minor: int, fee_bps: int) -> PayoutFigures:
    """A factory's pay: its share less what was refunded of it, less the fee on that."""
    if not 0 <= refunded_minor <= share_minor:
        raise ValueError(f"refund {refunded_minor} outside 0..{share_minor}")
    rest = share_minor - refunded_minor
    fee = fee_minor(rest, fee_bps)
    return PayoutFigures(share_minor, refunded_minor, fee, rest - fee)


@dataclass(frozen=True)
class Books:
    """One order's money, in its currency."""

    captured: int = 0
    refunded: int = 0
    transferred: int = 0
    fees: int = 0

    @property
    def held(self) -> int:
        """Still on the platform for the order: owed to a factory, or to be refunded."""
        return self.captured - self.refunded - self.transferred - self.fees

    def __add__(self, other: Books) -> Books:
        return Books(
            self.captured + other.captured,
            self.refunded + other.refunded,
            self.transferred + other.transferred,
            self.fees + other.fees,
        )
