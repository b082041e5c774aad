"""The one clock of the supply pages, API and command line."""

from __future__ import annotations

from datetime import date, datetime

from factories.models import utcnow


def today_and_now() -> tuple[date, datetime]:
    """Today's date and this moment, in UTC: the services take both, so that one request
    sees one day even when it runs across midnight."""
    now = utcnow()
    return now.date(), now
