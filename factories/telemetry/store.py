"""Reading and writing machines and observations for a batch in few statements.

Thousands of machines report every second; ORM objects and one statement per report
would cost more than everything else together. Machines are read as plain rows
(`MachineRow`); on PostgreSQL a batch's machines and observations are written in one
statement, the rows handed over as one JSON document (`json_to_recordset`), and an
observation already recorded for the same machine, instant and content digest is skipped
(`ON CONFLICT DO NOTHING` on the unique index). Elsewhere (SQLite, for development) an
executemany of each says the same.

Locks: the machines reporting in a batch are locked in id order (`lock_machines`). A
process's sum is set under a transaction-level advisory lock per (factory, process)
(`lock_groups`, in key order), which every writer of that sum takes: the one who sets
it last has seen what everyone before it committed, and no one waits for a machine row
while holding a group, so two workers never deadlock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from factories.models import table_of
from factories.telemetry.models import NO_DIGEST, Machine, Observation

MACHINE_STATE_COLUMNS = (
    "state",
    "observed_at",
    "down_since",
    "forecast",
    "utilization",
    "last_seen_at",
)
OBSERVATION_COLUMNS = (
    "machine_id",
    "observed_at",
    "received_at",
    "source",
    "state",
    "available_hours",
    "utilization",
    "digest",
    "applied",
    "changes",
)
# An observation's identity: its machine (row id), its instant and its content digest.
ObservationKey = tuple[int, datetime, str]

_WRITE_PG = sa.text(
    """
    WITH moved AS (
        UPDATE machine AS m SET state = v.state, observed_at = v.observed_at,
            down_since = v.down_since, forecast = v.forecast, utilization = v.utilization,
            last_seen_at = v.last_seen_at
        FROM json_to_recordset(CAST(:machines AS json)) AS v(id integer, state varchar,
            observed_at timestamptz, down_since timestamptz, forecast jsonb,
            utilization float8, last_seen_at timestamptz)
        WHERE m.id = v.id
    )
    INSERT INTO machine_observation (machine_id, observed_at, received_at, source, state,
        available_hours, utilization, digest, applied, changes)
    SELECT machine_id, observed_at, received_at, source, state, available_hours,
        utilization, digest, applied, changes
    FROM json_to_recordset(CAST(:observations AS json)) AS o(machine_id integer,
        observed_at timestamptz, received_at timestamptz, source varchar, state varchar,
        available_hours jsonb, utilization float8, digest varchar, applied boolean,
        changes jsonb)
    ON CONFLICT (machine_id, observed_at, digest) DO NOTHING
    """
)
_RECORDED_PG = sa.text(
    """
    SELECT o.machine_id, o.observed_at, o.digest FROM machine_observation AS o
    JOIN unnest(CAST(:machines AS integer[]), CAST(:instants AS timestamptz[]))
        AS k(machine_id, observed_at)
        ON o.machine_id = k.machine_id AND o.observed_at = k.observed_at
    """
)
# The subquery's order is the order the locks are taken in (OFFSET 0 keeps it a subquery).
_LOCK_GROUPS_PG = sa.text(
    """
    SELECT count(pg_advisory_xact_lock(k)) FROM (
        SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k OFFSET 0
    ) AS ordered
    """
)


@dataclass(slots=True)
class MachineRow:
    """A machine as a batch works on it: what its contribution depends on and its state."""

    id: int
    factory_id: int
    process_code: str
    nominal_hours: Decimal
    state: str | None
    observed_at: datetime | None
    down_since: datetime | None
    forecast: dict[str, Any] = field(default_factory=dict)
    utilization: float | None = None
    last_seen_at: datetime | None = None


def _machine_columns() -> list[sa.ColumnElement[Any]]:
    table = table_of(Machine)
    return [
        table.c.id,
        table.c.factory_id,
        table.c.process_code,
        table.c.nominal_hours,
        *(table.c[name] for name in MACHINE_STATE_COLUMNS),
    ]


def _rows(result: sa.Result[Any]) -> list[MachineRow]:
    return [
        MachineRow(
            id=r.id,
            factory_id=r.factory_id,
            process_code=r.process_code,
            nominal_hours=Decimal(r.nominal_hours),
            state=r.state,
            observed_at=r.observed_at,
            down_since=r.down_since,
            forecast=dict(r.forecast or {}),
            utilization=r.utilization,
            last_seen_at=r.last_seen_at,
        )
        for r in result.all()
    ]


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_machines(session: Session, pks: Collection[int]) -> dict[int, MachineRow]:
    """The machines `pks` that still exist, locked in id order until the transaction ends."""
    if not pks:
        return {}
    table = table_of(Machine)
    statement = (
        sa.select(*_machine_columns())
        .where(table.c.id.in_(sorted(pks)))
        .order_by(table.c.id)
        .with_for_update()
    )
    return {row.id: row for row in _rows(session.execute(statement))}


def machines_of_groups(session: Session, groups: Collection[tuple[int, str]]) -> list[MachineRow]:
    """Every machine of the (factory, process) groups, as committed plus this
    transaction's own writes (the group lock, not a row lock, keeps the sum consistent)."""
    if not groups:
        return []
    table = table_of(Machine)
    statement = (
        sa.select(*_machine_columns())
        .where(sa.tuple_(table.c.factory_id, table.c.process_code).in_(sorted(groups)))
        .order_by(table.c.id)
    )
    return _rows(session.execute(statement))


def group_key(factory_id: int, process: str) -> int:
    """A stable 64-bit advisory lock key for a factory's process."""
    digest = hashlib.blake2b(
        f"factoryweb.telemetry.group:{factory_id}:{process}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_groups(session: Session, groups: Collection[tuple[int, str]]) -> None:
    """Serialize the setting of these processes' sums with every other writer of them,
    until the transaction ends. SQLite serializes all writers anyway."""
    if groups and _postgresql(session):
        keys = sorted({group_key(f, p) for f, p in groups})
        session.execute(_LOCK_GROUPS_PG, {"keys": keys})


def recorded(session: Session, keys: Collection[ObservationKey]) -> set[ObservationKey]:
    """Those of `keys` (machine, observed at, digest) already recorded: by an observation
    with that digest, or by one recorded before digests, at that instant."""
    if not keys:
        return set()
    instants = sorted({(machine, at) for machine, at, _ in keys})
    if _postgresql(session):
        result = session.execute(
            _RECORDED_PG,
            {"machines": [k[0] for k in instants], "instants": [k[1] for k in instants]},
        )
    else:
        table = table_of(Observation)
        result = session.execute(
            sa.select(table.c.machine_id, table.c.observed_at, table.c.digest).where(
                sa.tuple_(table.c.machine_id, table.c.observed_at).in_(instants)
            )
        )
    stored = {(row[0], row[1], row[2]) for row in result}
    return {
        (machine, at, digest)
        for machine, at, digest in keys
        if (machine, at, digest) in stored or (machine, at, NO_DIGEST) in stored
    }


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_batch(
    session: Session, machines: Sequence[MachineRow], observations: Sequence[dict[str, Any]]
) -> None:
    """Store the state columns of `machines` and keep `observations` (dicts of
    `OBSERVATION_COLUMNS`), each once per machine, instant and digest."""
    if not machines and not observations:
        return
    if _postgresql(session):
        session.execute(
            _WRITE_PG,
            {
                "machines": json.dumps(
                    [
                        {"id": m.id, **{c: getattr(m, c) for c in MACHINE_STATE_COLUMNS}}
                        for m in machines
                    ],
                    default=_json_value,
                ),
                "observations": json.dumps(list(observations), default=_json_value),
            },
        )
        return
    if machines:
        table = table_of(Machine)
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("machine_pk"))
            .values({c: sa.bindparam(f"new_{c}") for c in MACHINE_STATE_COLUMNS})
        )
        session.execute(
            statement,
            [
                {"machine_pk": m.id, **{f"new_{c}": getattr(m, c) for c in MACHINE_STATE_COLUMNS}}
                for m in machines
            ],
        )
    if observations:
        insert = sqlite.insert(table_of(Observation)).on_conflict_do_nothing()
        session.execute(insert, list(observations))
