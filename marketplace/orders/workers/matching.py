"""Executing a matching run: build the problem from the database, solve it with live
progress, apply the plan. Wherever the dispatcher sends the run (a Celery worker, a
thread of the web process, the simulation's pool), this is what runs it.

A run's problem, the plan it started from (a re-match's standing proposals) and the plan
it found are stored on its row, so that any run can be downloaded and replayed with
`factoryweb match`. Progress (best fill and cost so far, seconds used) is written to the
row while the engine searches, in short transactions of their own, at most twice a
second. Claiming a run (queued -> running) is one conditional update, so two workers
handed the same run never both execute it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

import matching
from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunState, OrderState
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals.apply import apply_plan
from marketplace.orders.proposals.service import settle_after_run
from marketplace.orders.runs.problem import build_problem
from marketplace.orders.runs.service import orders_of_run, run_orders

log = logging.getLogger(__name__)

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
        with self.database.session() as session:
            session.execute(
                sa.update(MatchRun)
                .where(col(MatchRun.id) == self.run_id)
                .values(progress=dict(self.latest))
            )


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
    """Build, solve and apply one queued run; returns the finished run (None if it was
    not queued any more, e.g. already taken by another worker)."""
    started = time.perf_counter()
    now = today or utcnow()
    with database.session() as session:
        claimed = session.exec(
            sa.update(MatchRun)
            .where(col(MatchRun.id) == run_id, col(MatchRun.state) == MatchRunState.QUEUED)
            .values(state=MatchRunState.RUNNING, started_at=now, progress={"phase": "building"})
        ).rowcount
        if claimed != 1:
            return None
        run = session.get(MatchRun, run_id)
        assert run is not None
        orders = [o for o in orders_of_run(session, run_id) if o.state == OrderState.MATCHING]
        built = build_problem(
            session, orders, now.date(), time_limit_s=run.time_limit_s, workers=workers, seed=seed
        )
        run.problem = built.problem
        run.previous_plan = built.previous_plan
        time_limit_s = run.time_limit_s
    try:
        plan = _solve(database, run_id, built, time_limit_s, workers, seed, started)
    except Exception as error:
        log.exception("matching run %s failed", run_id)
        return _fail(database, run_id, f"{type(error).__name__}: {error}", dispatcher)
    try:
        with database.session() as session:
            if dispatcher is not None:
                outbox.use_dispatcher(session, dispatcher)
            run = session.get(MatchRun, run_id)
            assert run is not None
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
    except Exception as error:  # nothing of the plan was applied: the orders settle back
        log.exception("applying the plan of run %s failed", run_id)
        return _fail(database, run_id, f"{type(error).__name__}: {error}", dispatcher)
    return run


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
    database: Database, run_id: int, message: str, dispatcher: outbox.Dispatcher | None
) -> MatchRun | None:
    with database.session() as session:
        if dispatcher is not None:
            outbox.use_dispatcher(session, dispatcher)
        run = session.get(MatchRun, run_id)
        if run is None:
            return None
        run.state = MatchRunState.FAILED
        run.error = message[:2000]
        run.finished_at = utcnow()
        run.progress = {**run.progress, "phase": "failed"}
        orders = lock_orders(session, run_orders(session, run_id))
        settle_after_run(session, [o for o in orders if o.state == OrderState.MATCHING], run)
    return run
