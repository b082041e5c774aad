"""The input error of the operator's area (the foundation's `InputError`)."""

from __future__ import annotations

from factories.errors import InputError


class OperatorError(InputError):
    """Input the operator's area refuses, naming the field (`factory`, `from_week`)."""
