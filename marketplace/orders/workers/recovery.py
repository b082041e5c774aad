"""Runs that lost their worker, or their message, come back by themselves.

* A running run whose heartbeat has been silent for `silence` (the worker died, its
  machine went away, the database cut it off) is queued again and handed to the
  dispatcher: the buyer waits a little longer, and never has to ask again. After
  `max_attempts` starts it fails, with a reason the buyer reads, and its orders settle.
* A queued run that no worker has taken `redispatch_after` its last hand-off (the broker
  was down when it was queued, or lost its messages in a restart) is handed over again.
  A message delivered twice is harmless: only one claim of a queued run succeeds.

Several processes may sweep at once: each locks, or skips, the rows another one holds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from factories.models import id_of
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunState, OrderState
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.settling import settle_after_run
from marketplace.orders.runs.service import run_orders

log = logging.getLogger(__name__)

DEFAULT_SILENCE = timedelta(seconds=30)
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_REDISPATCH_AFTER = timedelta(seconds=45)
GAVE_UP = (
    "the matching was interrupted %s times (its worker stopped each time); "
    "start it again, or ask the operators if it keeps happening"
)


def recover_runs(
    database: Database,
    dispatcher: outbox.Dispatcher,
    now: datetime,
    *,
    silence: timedelta = DEFAULT_SILENCE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    redispatch_after: timedelta = DEFAULT_REDISPATCH_AFTER,
) -> dict[str, int]:
    """One sweep; how many runs it queued again, failed, and handed over again."""
    with database.session() as session:
        outbox.use_dispatcher(session, dispatcher)
        last_sign = sa.func.coalesce(MatchRun.heartbeat_at, MatchRun.started_at)
        silent = session.exec(
            select(MatchRun)
            .where(MatchRun.state == MatchRunState.RUNNING, last_sign < now - silence)
            .order_by(col(MatchRun.id))
            .with_for_update(skip_locked=True)
        ).all()
        requeued, failed = [], []
        for run in silent:
            if run.attempts < max_attempts:
                run.state = MatchRunState.QUEUED
                run.dispatched_at = now
                run.progress = {"phase": "queued", "interrupted": run.attempts}
                requeued.append(id_of(run))
            else:
                run.state = MatchRunState.FAILED
                run.error = GAVE_UP % run.attempts
                run.finished_at = now
                run.progress = {**run.progress, "phase": "failed"}
                orders = lock_orders(session, run_orders(session, id_of(run)))
                settle_after_run(
                    session, [o for o in orders if o.state == OrderState.MATCHING], run
                )
                failed.append(id_of(run))
        stuck = session.exec(
            select(MatchRun)
            .where(
                MatchRun.state == MatchRunState.QUEUED,
                col(MatchRun.id).not_in(requeued or [0]),
                sa.or_(
                    col(MatchRun.dispatched_at).is_(None),
                    col(MatchRun.dispatched_at) < now - redispatch_after,
                ),
            )
            .order_by(col(MatchRun.id))
            .with_for_update(skip_locked=True)
        ).all()
        for run in stuck:
            run.dispatched_at = now
        handed = [*requeued, *(id_of(run) for run in stuck)]
        if handed:
            outbox.later(session, runs=handed)
    if requeued or failed or stuck:
        log.warning(
            "runs recovered: %s queued again after their worker stopped, %s failed after "
            "%s attempts, %s handed to the broker again",
            requeued,
            failed,
            max_attempts,
            [run.id for run in stuck],
        )
    return {"requeued": len(requeued), "failed": len(failed), "redispatched": len(stuck)}
