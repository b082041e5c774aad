"""Network reports: computed outside the page and kept (`NetworkReport`), so that the
network page reads one row however large the cluster.

A report is computed by `factoryweb network report`, by the page's "compute now" (and on
its first visit, when there is none), and by housekeeping when the latest is older than
`MAX_AGE` (Celery beat's `operator.network-report`, or the web process's housekeeping
thread without Celery). Several processes may compute one at once: each adds its own row;
the page shows the latest. Rows beyond the latest `KEPT` are deleted.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import utcnow
from marketplace.db import Database
from marketplace.operator.models import NetworkReport
from marketplace.operator.network.layout import drawing
from marketplace.operator.network.service import (
    RECOVERY_TIME_LIMIT_S,
    Network,
    ProcessRisk,
    network,
    recovery,
)

MAX_AGE = timedelta(minutes=10)
KEPT = 6


def compute_report(
    session: Session,
    today: date,
    now: datetime,
    *,
    time_limit_s: float = RECOVERY_TIME_LIMIT_S,
    workers: int | None = None,
) -> NetworkReport:
    """Work out the network's risk and the four properties now, and keep the report."""
    started = time.perf_counter()
    net = network(session, today)
    value, result = recovery(session, net, time_limit_s=time_limit_s, workers=workers)
    data: dict[str, Any] = report(net, value)
    data["recovery_detail"] = (
        None
        if result is None
        else {
            "factory": result.outage.factory_ids[0],
            "label": result.outage.label,
            "fill_before": result.fill_before,
            "fill_lost": result.fill_lost,
            "fill_after": result.fill_after,
        }
    )
    data["demanded_hours"] = float(net.demanded_hours)
    data["on_time_hours"] = float(net.on_time_hours)
    data["drawing"] = asdict(drawing(net))
    row = NetworkReport(
        computed_at=now, seconds=round(time.perf_counter() - started, 3), report=data
    )
    session.add(row)
    session.flush()
    _prune(session)
    return row


def latest_report(session: Session) -> NetworkReport | None:
    return session.exec(
        select(NetworkReport)
        .order_by(col(NetworkReport.computed_at).desc(), col(NetworkReport.id).desc())
        .limit(1)
    ).first()


def is_outdated(row: NetworkReport | None, now: datetime) -> bool:
    return row is None or now - row.computed_at > MAX_AGE


def _prune(session: Session) -> None:
    keep = (
        select(NetworkReport.id)
        .order_by(col(NetworkReport.computed_at).desc(), col(NetworkReport.id).desc())
        .limit(KEPT)
    )
    session.exec(
        sa.delete(NetworkReport).where(col(NetworkReport.id).not_in(keep.scalar_subquery()))
    )


def sweep(database: Database, dispatcher: object = None) -> dict[str, object]:
    """Housekeeping: a new report when the latest is older than MAX_AGE."""
    now = utcnow()
    with database.session() as session:
        if not is_outdated(latest_report(session), now):
            return {"network_report": None}
        row = compute_report(session, now.date(), now)
        return {"network_report": row.id}


def risk_row(risk: ProcessRisk, names: dict[int, str]) -> dict[str, Any]:
    return {
        "process": risk.process,
        "demanded_hours": float(risk.demanded_hours),
        "allocated_hours": float(risk.allocated_hours),
        "qualified_factories": len(risk.qualified),
        "free_hours": float(risk.free_hours),
        "hhi": risk.concentration,
        "single_sourced_orders": sorted(risk.single_sourced),
        "unserved_lines": risk.unserved_lines,
        "critical_factories": [
            {"factory": f, "name": names.get(f, "")} for f in sorted(risk.critical)
        ],
    }


def report(net: Network, recovery: float) -> dict[str, Any]:
    return {
        "completeness": round(net.completeness, 4),
        "smoothness": round(net.smoothness, 4),
        "control": round(net.control, 4),
        "recovery": round(recovery, 4),
        "most_critical_factory": net.most_critical,
        "critical_factories": [{"factory": f, "name": n} for f, n in net.critical.items()],
        "processes": [risk_row(r, net.critical) for r in net.processes],
    }
