"""Periodic upkeep: expire unanswered proposals, and recover runs that were lost
(a worker died mid-run, or a broker lost the message)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from factories.models import id_column, id_of, utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunState, OrderState
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.service import expire_due, settle_after_run
from marketplace.orders.runs.service import run_orders

# A run still queued this long was never picked up: hand it out again.
LOST_QUEUED = timedelta(minutes=10)
# A run still running this long (time limits are at most a minute) has lost its worker.
LOST_RUNNING = timedelta(minutes=10)


def recover_runs(database: Database, dispatcher: outbox.Dispatcher, now: datetime) -> int:
    recovered = 0
    with database.session() as session:
        outbox.use_dispatcher(session, dispatcher)
        queued = session.exec(
            select(id_column(MatchRun)).where(
                MatchRun.state == MatchRunState.QUEUED, MatchRun.created_at < now - LOST_QUEUED
            )
        ).all()
        if queued:
            outbox.later(session, runs=list(queued))
        stale = session.exec(
            select(MatchRun)
            .where(
                MatchRun.state == MatchRunState.RUNNING,
                col(MatchRun.started_at) < now - LOST_RUNNING,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for run in stale:
            run.state = MatchRunState.FAILED
            run.error = "the worker running it stopped"
            run.finished_at = now
            orders = lock_orders(session, run_orders(session, id_of(run)))
            settle_after_run(session, [o for o in orders if o.state == OrderState.MATCHING], run)
        recovered = len(queued) + len(stale)
    return recovered


def run_housekeeping(
    database: Database, dispatcher: outbox.Dispatcher, now: datetime | None = None
) -> dict[str, int]:
    now = now or utcnow()
    with database.session() as session:
        outbox.use_dispatcher(session, dispatcher)
        expired = expire_due(session, now)
    return {"expired": expired, "recovered_runs": recover_runs(database, dispatcher, now)}
