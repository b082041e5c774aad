"""The input error of the payments area (the foundation's `InputError`)."""

from __future__ import annotations

from factories.errors import InputError


class PaymentError(InputError):
    """Input the payments area refuses, naming the field (`refunds[0].amount_minor`)."""
