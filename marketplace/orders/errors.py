"""The input error of the orders area (the foundation's `InputError`, so that the API's
one handler and the pages' one form helper say it)."""

from __future__ import annotations

from factories.errors import InputError


class OrderError(InputError):
    """Input the orders domain refuses; `problems` names every offending field
    (`lines[1].material`)."""
