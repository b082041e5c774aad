"""Tables of machine telemetry: the machines a factory registered and what they said.

Field meanings are those of docs/telemetry.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from factories.models import Hours, JsonDocument, UtcDateTime, timestamp_field


class MachineState(StrEnum):
    """OPC UA for Machinery's MachineryItemState, in its order (the numeric values)."""

    NOT_AVAILABLE = "NotAvailable"
    OUT_OF_SERVICE = "OutOfService"
    NOT_EXECUTING = "NotExecuting"
    EXECUTING = "Executing"


# While a machine is in one of these states it offers nothing more this week.
DOWN_STATES = frozenset({MachineState.NOT_AVAILABLE, MachineState.OUT_OF_SERVICE})

# Hex characters of a report's content digest (`Reading.digest`) kept per observation.
DIGEST_LENGTH = 32
# The digest of rows recorded before reports were told apart by content (migration 0019):
# such a row stands for whatever its machine said at that instant.
NO_DIGEST = ""


class Machine(SQLModel, table=True):
    """A machine of a factory: the process it serves and what it offers per week."""

    __table_args__ = (
        sa.UniqueConstraint("factory_id", "machine_id"),
        sa.CheckConstraint(
            "nominal_hours >= 0 AND nominal_hours <= 168", name="nominal_hours_range"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique constraint's index leads with it.
    factory_id: int = Field(foreign_key="factory.id", ondelete="CASCADE")
    machine_id: str = Field(max_length=64, description="the factory's own name, e.g. M-07")
    process_code: str = Field(max_length=40)
    nominal_hours: Decimal = Field(sa_type=Hours, description="hours per week")
    opcua_endpoint: str = Field(default="", max_length=200)
    opcua_state_node: str = Field(default="", max_length=200)
    opcua_hours_node: str = Field(default="", max_length=200)
    # The newest observation applied: its state, when it was observed, the machine's own
    # forecast (ISO week -> hours) and, while it is down, when it went down.
    state: str | None = Field(default=None, max_length=16)
    observed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    down_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    forecast: dict = Field(default_factory=dict, sa_type=JsonDocument)
    utilization: float | None = Field(default=None)
    # When the marketplace last heard from it (any observation, applied or not).
    last_seen_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = timestamp_field()


class Observation(SQLModel, table=True):
    """One thing a machine said, applied or not, and what it changed: its contribution per
    week before and after (`changes`: {"2026-W49": [40, 14.29]}). One per machine, instant
    and content (`digest`): a report delivered twice is kept once, while a different
    report at the same instant is a report of its own."""

    __tablename__ = "machine_observation"
    __table_args__ = (
        sa.Index(
            "uq_machine_observation_machine_at_digest",
            "machine_id",
            "observed_at",
            "digest",
            unique=True,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id", ondelete="CASCADE")
    observed_at: datetime = Field(sa_type=UtcDateTime)
    received_at: datetime = Field(sa_type=UtcDateTime)
    source: str = Field(max_length=8, description="mqtt or opcua")
    state: str = Field(max_length=16)
    available_hours: dict = Field(default_factory=dict, sa_type=JsonDocument)
    utilization: float | None = Field(default=None)
    digest: str = Field(
        default=NO_DIGEST, max_length=DIGEST_LENGTH, sa_column_kwargs={"server_default": ""}
    )
    applied: bool
    changes: dict = Field(default_factory=dict, sa_type=JsonDocument)
