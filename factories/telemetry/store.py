"""Writing a batch of observations and the machines' new state in few statements.

Thousands of machines report every second; one UPDATE and one INSERT per report would
cost more than everything else together. On PostgreSQL each batch is one UPDATE and one
INSERT over arrays (`unnest`); elsewhere (SQLite, for development) an executemany of
each, which says the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from factories.models import id_of, table_of
from factories.telemetry.models import Machine, Observation

MACHINE_COLUMNS = ("state", "observed_at", "down_since", "forecast", "utilization", "last_seen_at")

_UPDATE_PG = sa.text(
    """
    UPDATE machine AS m SET state = v.state, observed_at = v.observed_at,
        down_since = v.down_since, forecast = v.forecast, utilization = v.utilization,
        last_seen_at = v.last_seen_at
    FROM unnest(CAST(:ids AS integer[]), CAST(:states AS varchar[]),
        CAST(:observed AS timestamptz[]), CAST(:down AS timestamptz[]),
        CAST(:forecasts AS jsonb[]), CAST(:utilizations AS float8[]),
        CAST(:seen AS timestamptz[]))
        AS v(id, state, observed_at, down_since, forecast, utilization, last_seen_at)
    WHERE m.id = v.id
    """
)
_INSERT_PG = sa.text(
    """
    INSERT INTO machine_observation (machine_id, observed_at, received_at, source, state,
        available_hours, utilization, applied, changes)
    SELECT * FROM unnest(CAST(:machines AS integer[]), CAST(:observed AS timestamptz[]),
        CAST(:received AS timestamptz[]), CAST(:sources AS varchar[]),
        CAST(:states AS varchar[]), CAST(:hours AS jsonb[]), CAST(:utilizations AS float8[]),
        CAST(:applied AS boolean[]), CAST(:changes AS jsonb[]))
    """
)


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def write_machines(session: Session, machines: Sequence[Machine]) -> None:
    """Store the state columns of `machines` (detached from the session)."""
    if not machines:
        return
    if _postgresql(session):
        session.execute(
            _UPDATE_PG,
            {
                "ids": [id_of(m) for m in machines],
                "states": [m.state for m in machines],
                "observed": [m.observed_at for m in machines],
                "down": [m.down_since for m in machines],
                "forecasts": [json.dumps(m.forecast or {}) for m in machines],
                "utilizations": [m.utilization for m in machines],
                "seen": [m.last_seen_at for m in machines],
            },
        )
        return
    table = table_of(Machine)
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("machine_pk"))
        .values({c: sa.bindparam(f"new_{c}") for c in MACHINE_COLUMNS})
    )
    session.execute(
        statement,
        [
            {"machine_pk": id_of(m), **{f"new_{c}": getattr(m, c) for c in MACHINE_COLUMNS}}
            for m in machines
        ],
    )


def insert_observations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Keep every observation of the batch."""
    if not rows:
        return
    if not _postgresql(session):
        session.execute(sa.insert(table_of(Observation)), list(rows))
        return
    session.execute(
        _INSERT_PG,
        {
            "machines": [r["machine_id"] for r in rows],
            "observed": [r["observed_at"] for r in rows],
            "received": [r["received_at"] for r in rows],
            "sources": [r["source"] for r in rows],
            "states": [r["state"] for r in rows],
            "hours": [json.dumps(r["available_hours"]) for r in rows],
            "utilizations": [r["utilization"] for r in rows],
            "applied": [r["applied"] for r in rows],
            "changes": [json.dumps(r["changes"]) for r in rows],
        },
    )
