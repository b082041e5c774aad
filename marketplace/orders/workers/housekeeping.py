"""Periodic upkeep: expire unanswered proposals, and recover runs that lost their worker
or their message (`recovery`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.proposals.service import expire_due
from marketplace.orders.workers.recovery import recover_runs


def run_housekeeping(
    database: Database,
    dispatcher: outbox.Dispatcher,
    now: datetime | None = None,
    **liveness: Any,
) -> dict[str, int]:
    """Expire proposals past their deadline and recover runs (`liveness`: the settings of
    `recover_runs`)."""
    now = now or utcnow()
    with database.session() as session:
        outbox.use_dispatcher(session, dispatcher)
        expired = expire_due(session, now)
    recovered = recover_runs(database, dispatcher, now, **liveness)
    return {
        "expired": expired,
        "recovered_runs": sum(recovered.values()),
        **{f"{kind}_runs": count for kind, count in recovered.items()},
    }
