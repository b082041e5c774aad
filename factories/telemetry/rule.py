"""How observations change free capacity (docs/telemetry.md, "How observations change
capacity"): a machine's contribution to its process's maximum hours in one ISO week.

Pure functions of a machine's last applied state; the service sums them per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol

from factories.capacity.hours import quantize_hours
from factories.capacity.weeks import monday_of, week_label
from factories.telemetry.models import DOWN_STATES, MachineState

WEEK_SECONDS = Decimal(7 * 24 * 3600)


def week_start(monday: date) -> datetime:
    """Monday 00:00 UTC of the week named by `monday`."""
    return datetime.combine(monday, time(0), tzinfo=UTC)


def elapsed_share(at: datetime) -> Decimal:
    """The share of its ISO week (Monday 00:00 to Sunday 24:00 UTC) passed at `at`."""
    start = week_start(monday_of(at.astimezone(UTC).date()))
    return Decimal((at - start).total_seconds()) / WEEK_SECONDS


def contribution(
    nominal_hours: Decimal,
    forecast: Mapping[str, object],
    state: str | None,
    down_since: datetime | None,
    week: date,
) -> Decimal:
    """Hours one machine adds to its process's maximum in `week` (a Monday).

    Its nominal hours, or its own forecast for that week; while it is down
    (OutOfService, NotAvailable), only the part of the week that had passed when it went
    down, in that week; later weeks are unchanged.
    """
    given = forecast.get(week_label(week))
    hours = Decimal(str(given)) if given is not None else Decimal(nominal_hours)
    went_down = down_since if state in DOWN_STATES else None
    if went_down is not None and monday_of(went_down.astimezone(UTC).date()) == week:
        hours = hours * elapsed_share(went_down)
    return quantize_hours(hours)


class Contributing(Protocol):
    """What a machine's contribution depends on: a registered machine, or the columns of
    one read for a batch (`store.MachineRow`)."""

    @property
    def nominal_hours(self) -> Decimal: ...
    @property
    def forecast(self) -> Mapping[str, object] | None: ...
    @property
    def state(self) -> str | None: ...
    @property
    def down_since(self) -> datetime | None: ...


def machine_contribution(machine: Contributing, week: date) -> Decimal:
    return contribution(
        machine.nominal_hours, machine.forecast or {}, machine.state, machine.down_since, week
    )


def down_since_after(
    previous_state: str | None, previous_down_since: datetime | None, state: str, at: datetime
) -> datetime | None:
    """When the machine went down, after an observation of `state` at `at`: the first
    down report counts (a second one does not move it); running clears it."""
    if state not in DOWN_STATES:
        return None
    if previous_state in DOWN_STATES and previous_down_since is not None:
        return previous_down_since
    return at


def weeks_ahead(today: date, count: int) -> list[date]:
    first = monday_of(today)
    return [first + timedelta(weeks=i) for i in range(count)]


__all__ = ["MachineState", "contribution", "down_since_after", "machine_contribution"]
