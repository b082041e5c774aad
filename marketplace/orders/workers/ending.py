"""How a run ends: its plan applied in one transaction (`finish_run`), or the run failed
and its orders settled back (`fail`); either only if the run is still the attempt's
that ends it (a worker presumed lost whose run was queued again applies nothing)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import exc
from sqlmodel import Session, select

from factories.models import deferred, utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunState, OrderState
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.apply import apply_plan
from marketplace.orders.proposals.settling import settle_after_run
from marketplace.orders.runs.problem import BuiltProblem
from marketplace.orders.runs.service import run_orders

log = logging.getLogger(__name__)

T = TypeVar("T")


# A unit of work the database broke off (a restart, a terminated connection) is tried
# again this many times, after these pauses; each is whole or nothing, so a retry is safe.
DATABASE_RETRIES = (1.0, 3.0, 6.0)


def with_database_retries(unit: Callable[[], T], what: str) -> T:
    """Run a unit of work (its own transaction), again if the database broke it off."""
    for pause in DATABASE_RETRIES:
        try:
            return unit()
        except (exc.OperationalError, exc.InterfaceError) as error:
            log.warning("%s: the database broke off (%s); trying again in %g s", what, error, pause)
            time.sleep(pause)
    return unit()


def finish_run(
    database: Database,
    run_id: int,
    attempt: int,
    built: BuiltProblem,
    plan: dict[str, Any],
    *,
    elapsed_s: float,
    dispatcher: outbox.Dispatcher | None,
    deadline: timedelta,
) -> MatchRun | None:
    """Apply the plan and mark the run succeeded, in one transaction (retried if the
    database broke it off); the run, or None when it is no longer this attempt's."""

    def apply() -> MatchRun | None:
        with database.session() as session:
            if dispatcher is not None:
                outbox.use_dispatcher(session, dispatcher)
            run = own_attempt(session, run_id, attempt)
            if run is None:
                return None
            run.plan = plan
            run.solver_status = plan["status"]
            run.outcome = apply_plan(session, run, built, plan, now=utcnow(), deadline=deadline)
            run.state = MatchRunState.SUCCEEDED
            run.finished_at = utcnow()
            run.progress = {
                "phase": "done",
                "fill": plan.get("fill"),
                "cost": plan["objective"],
                "bound": plan.get("bound"),
                "elapsed_s": round(elapsed_s, 2),
            }
            return run

    try:
        return with_database_retries(apply, f"applying the plan of run {run_id}")
    except (exc.OperationalError, exc.InterfaceError):
        # The database is still away: the run keeps its state, its heartbeat stops,
        # and recovery queues it again once the database is back.
        log.exception("run %s: the plan could not be applied; left for recovery", run_id)
        raise
    except Exception as error:  # nothing of the plan was applied: the orders settle back
        log.exception("applying the plan of run %s failed", run_id)
        return fail(database, run_id, attempt, f"{type(error).__name__}: {error}", dispatcher)


def own_attempt(session: Session, run_id: int, attempt: int) -> MatchRun | None:
    """The run, locked, if it is still running as this attempt (else None)."""
    return session.exec(
        select(MatchRun)
        .where(
            MatchRun.id == run_id,
            MatchRun.state == MatchRunState.RUNNING,
            MatchRun.attempts == attempt,
        )
        # The problem (compressed, possibly huge) is not needed to end the run.
        .options(deferred(MatchRun, "problem"))
        .with_for_update()
    ).first()


def fail(
    database: Database,
    run_id: int,
    attempt: int,
    message: str,
    dispatcher: outbox.Dispatcher | None,
) -> MatchRun | None:
    with database.session() as session:
        if dispatcher is not None:
            outbox.use_dispatcher(session, dispatcher)
        run = own_attempt(session, run_id, attempt)
        if run is None:
            return None
        run.state = MatchRunState.FAILED
        run.error = message[:2000]
        run.finished_at = utcnow()
        run.progress = {**run.progress, "phase": "failed"}
        orders = lock_orders(session, run_orders(session, run_id))
        settle_after_run(session, [o for o in orders if o.state == OrderState.MATCHING], run)
    return run
