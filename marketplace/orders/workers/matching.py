"""Executing a matching run: build the problem from the database, solve it with live
progress, apply the plan. Wherever the dispatcher sends the run (a Celery worker, a
thread of the web process, the simulation's pool), this is what runs it.

A run's problem, the plan it started from (a re-match's standing proposals) and the plan
it found are stored on its row, so that any run can be downloaded and replayed with
`factoryweb match`. Progress (best fill and cost so far, seconds used) is written to the
row while the engine searches, in short transactions of their own, at most twice a
second. Claiming a run (queued -> running) is one conditional update, so two workers
handed the same run never both execute it; while it runs, its heartbeat is written every
two seconds, and a run whose heartbeat stops has lost its worker
(`marketplace.orders.workers.recovery` queues it again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlmodel import Session, col, select

import matching
from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunState, OrderState
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.apply import apply_plan
from marketplace.orders.proposals.settling import settle_after_run
from marketplace.orders.runs.problem import build_problem
from marketplace.orders.runs.service import orders_of_run, run_orders

log = logging.getLogger(__name__)

T = TypeVar("T")
PROGRESS_INTERVAL_S = 0.5
DEFAULT_DEADLINE = timedelta(hours=48)


class ProgressWriter:
    """The engine's on_progress: keeps the best figures, writes them now and then."""

    def __init__(self, database: Database, run_id: int, started: float) -> None:
        self.database = database
        self.run_id = run_id
        self.started = started
        self.latest: dict[str, Any] = {"phase": "solving"}
        self.last_write = 0.0
        self.lock = threading.Lock()

    def __call__(self, update: dict[str, Any]) -> None:
        with self.lock:
            for key in ("fill", "cost", "bound"):
                if update.get(key) is not None:
                    self.latest[key] = update[key]
            self.latest["elapsed_s"] = round(time.perf_counter() - self.started, 2)
            now = time.perf_counter()
            if now - self.last_write < PROGRESS_INTERVAL_S:
                return
            self.last_write = now
            self.write()

    def write(self) -> None:
        try:
            with self.database.session() as session:
                session.execute(
                    sa.update(MatchRun)
                    .where(col(MatchRun.id) == self.run_id)
                    .values(progress=dict(self.latest))
                )
        except exc.SQLAlchemyError:  # the figures are shown again at the next write
            log.warning("run %s: progress not written", self.run_id)


HEARTBEAT_INTERVAL_S = 2.0
# A unit of work the database broke off (a restart, a terminated connection) is tried
# again this many times, after these pauses; each is whole or nothing, so a retry is safe.
DATABASE_RETRIES = (1.0, 3.0, 6.0)


class Heartbeat:
    """Writes the run's heartbeat every few seconds while this attempt runs it, from a
    thread of its own, so that a run that is busy solving still shows it is alive. A
    write that fails (the database away for a moment) is tried at the next beat."""

    def __init__(self, database: Database, run_id: int, attempt: int) -> None:
        self.database = database
        self.run_id = run_id
        self.attempt = attempt
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"run-{run_id}-heartbeat")
        self.thread.daemon = True

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(HEARTBEAT_INTERVAL_S * 2)

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_INTERVAL_S):
            try:
                with self.database.session() as session:
                    session.execute(
                        sa.update(MatchRun)
                        .where(
                            col(MatchRun.id) == self.run_id,
                            col(MatchRun.state) == MatchRunState.RUNNING,
                            col(MatchRun.attempts) == self.attempt,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except exc.SQLAlchemyError:
                log.warning("run %s: heartbeat not written; trying again", self.run_id)


def with_database_retries(unit: Callable[[], T], what: str) -> T:
    """Run a unit of work (its own transaction), again if the database broke it off."""
    for pause in DATABASE_RETRIES:
        try:
            return unit()
        except (exc.OperationalError, exc.InterfaceError) as error:
            log.warning("%s: the database broke off (%s); trying again in %g s", what, error, pause)
            time.sleep(pause)
    return unit()


def execute_run(
    database: Database,
    run_id: int,
    *,
    dispatcher: outbox.Dispatcher | None = None,
    workers: int | None = None,
    seed: int = 0,
    deadline: timedelta = DEFAULT_DEADLINE,
    today: datetime | None = None,
) -> MatchRun | None:
    """Build, solve and apply one queued run; returns the finished run, or None when it
    was not this call's to run (not queued any more: another worker has it or finished
    it, so a message delivered twice changes nothing).

    Claiming the run counts an attempt; the plan is applied only if the run is still
    this attempt's (a worker presumed lost whose run was queued again and taken by
    another applies nothing), in one transaction: wholly or not at all."""
    started = time.perf_counter()
    now = today or utcnow()
    with database.session() as session:
        claimed = session.exec(
            sa.update(MatchRun)
            .where(col(MatchRun.id) == run_id, col(MatchRun.state) == MatchRunState.QUEUED)
            .values(
                state=MatchRunState.RUNNING,
                started_at=now,
                heartbeat_at=utcnow(),
                attempts=MatchRun.attempts + 1,
                progress={"phase": "building"},
            )
        ).rowcount
        if claimed != 1:
            return None
        run = session.get(MatchRun, run_id)
        assert run is not None
        attempt = run.attempts
        orders = [o for o in orders_of_run(session, run_id) if o.state == OrderState.MATCHING]
        built = build_problem(
            session, orders, now.date(), time_limit_s=run.time_limit_s, workers=workers, seed=seed
        )
        run.problem = built.problem
        run.previous_plan = built.previous_plan
        time_limit_s = run.time_limit_s
    with Heartbeat(database, run_id, attempt):
        try:
            plan = _solve(database, run_id, built, time_limit_s, workers, seed, started)
        except Exception as error:
            log.exception("matching run %s failed", run_id)
            return _fail(database, run_id, attempt, f"{type(error).__name__}: {error}", dispatcher)

        def apply() -> MatchRun | None:
            with database.session() as session:
                if dispatcher is not None:
                    outbox.use_dispatcher(session, dispatcher)
                run = _own_attempt(session, run_id, attempt)
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
                    "elapsed_s": round(time.perf_counter() - started, 2),
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
            return _fail(database, run_id, attempt, f"{type(error).__name__}: {error}", dispatcher)


def _own_attempt(session: Session, run_id: int, attempt: int) -> MatchRun | None:
    """The run, locked, if it is still running as this attempt (else None)."""
    return session.exec(
        select(MatchRun)
        .where(
            MatchRun.id == run_id,
            MatchRun.state == MatchRunState.RUNNING,
            MatchRun.attempts == attempt,
        )
        .with_for_update()
    ).first()


def _solve(
    database: Database,
    run_id: int,
    built: Any,
    time_limit_s: float,
    workers: int | None,
    seed: int,
    started: float,
) -> dict[str, Any]:
    if not built.problem["jobs"]:
        return {
            "status": "OPTIMAL",
            "objective": 0.0,
            "bound": 0.0,
            "assignments": [],
            "unassigned": [],
            "solve_s": 0.0,
            "fill": 1.0,
        }
    problem = matching.load_problem(built.problem)
    progress = ProgressWriter(database, run_id, started)
    progress.write()
    if built.previous_plan is not None:
        plan = matching.rematch(
            problem,
            matching.load_plan(built.previous_plan),
            time_limit_s=time_limit_s,
            workers=workers,
            seed=seed,
            on_progress=progress,
        )
    else:
        plan = matching.solve(problem, time_limit_s, workers, seed, hint=None, on_progress=progress)
    return plan.model_dump(mode="json")


def _fail(
    database: Database,
    run_id: int,
    attempt: int,
    message: str,
    dispatcher: outbox.Dispatcher | None,
) -> MatchRun | None:
    with database.session() as session:
        if dispatcher is not None:
            outbox.use_dispatcher(session, dispatcher)
        run = _own_attempt(session, run_id, attempt)
        if run is None:
            return None
        run.state = MatchRunState.FAILED
        run.error = message[:2000]
        run.finished_at = utcnow()
        run.progress = {**run.progress, "phase": "failed"}
        orders = lock_orders(session, run_orders(session, run_id))
        settle_after_run(session, [o for o in orders if o.state == OrderState.MATCHING], run)
    return run
