"""Executing a matching run: build the problem from the database, solve it with live
progress, apply the plan. Wherever the dispatcher sends the run (a Celery worker, a
thread of the web process, the simulation's pool), this is what runs it.

A run's problem, the plan it started from (a re-match's standing proposals) and the plan
it found are stored on its row, so that any run can be downloaded and replayed with
`factoryweb match`. Progress (best fill and cost so far, seconds used) is written to the
row while the engine searches (`heartbeat`). Claiming a run (queued -> running) is one
conditional update, so two workers handed the same run never both execute it; while it
runs, its heartbeat is written every two seconds, and a run whose heartbeat stops has
lost its worker (`marketplace.orders.workers.recovery` queues it again).

A big problem that falls apart into independent groups is solved in parts
(`matching.fanout`): on Celery one task per part (`marketplace.orders.workers.fanout`),
elsewhere in a pool of processes; a part is solved, merged and checked the same way.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

import matching
from factories.models import deferred, utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunState, OrderState
from marketplace.orders.runs.problem import BuiltProblem, build_problem
from marketplace.orders.runs.service import orders_of_run
from marketplace.orders.settings import DEFAULTS, fanout_settings
from marketplace.orders.workers.ending import fail, finish_run, own_attempt
from marketplace.orders.workers.fanout import store_parts
from marketplace.orders.workers.heartbeat import Heartbeat, ProgressWriter
from matching.fanout import FanOut, fan_out, solve_fanned

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = timedelta(hours=48)


def execute_run(
    database: Database,
    run_id: int,
    *,
    dispatcher: outbox.Dispatcher | None = None,
    workers: int | None = None,
    seed: int = 0,
    deadline: timedelta = DEFAULT_DEADLINE,
    today: datetime | None = None,
    fanout: dict[str, int] | None = None,
) -> MatchRun | None:
    """Build, solve and apply one queued run; returns the finished run, or None when it
    was not this call's to run (not queued any more: another worker has it or finished
    it, so a message delivered twice changes nothing).

    Claiming the run counts an attempt; the plan is applied only if the run is still
    this attempt's (a worker presumed lost whose run was queued again and taken by
    another applies nothing), in one transaction: wholly or not at all.

    `fanout` (`marketplace.orders.settings.fanout_settings`; default: the defaults) says
    when a problem is solved in parts; with a Celery dispatcher the parts go to the
    workers and this call returns the run still running."""
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
        attempt, time_limit_s = session.exec(
            select(MatchRun.attempts, MatchRun.time_limit_s).where(MatchRun.id == run_id)
        ).one()
    # Claimed for all to see before the build, which takes minutes for a national run:
    # another worker handed the same run sees it running, and its heartbeat says it lives.
    with Heartbeat(database, run_id, attempt), database.session() as session:
        orders = [o for o in orders_of_run(session, run_id) if o.state == OrderState.MATCHING]
        built = build_problem(
            session, orders, now.date(), time_limit_s=time_limit_s, workers=workers, seed=seed
        )
        run = own_attempt(session, run_id, attempt)
        if run is None:  # given up on, or taken over, while the problem was built
            return None
        run.problem = built.problem
        run.previous_plan = built.previous_plan
        del run  # stored: the row need not hold the document once the session ends
    settings = fanout or fanout_settings(DEFAULTS)
    problem = matching.load_problem(built.problem) if built.problem["jobs"] else None
    fanned = _fanned_out(problem, built, settings)
    if fanned is not None and getattr(dispatcher, "mode", None) == "celery":
        # The parts are made from the engine's model; the plain document is stored and
        # the merge reads it back: no need to hold it twice while the parts are written.
        built.problem = {}
        parts = store_parts(
            database,
            run_id,
            attempt,
            built,
            fanned,
            time_limit_s=time_limit_s,
            seed=seed,
            slots=settings["slots"],
        )
        dispatcher.submit_parts(run_id, parts)  # type: ignore[union-attr]
        with database.session() as session:
            return session.get(MatchRun, run_id, options=[deferred(MatchRun, "problem")])
    with Heartbeat(database, run_id, attempt):
        try:
            plan = _solve(
                database, run_id, built, problem, fanned is not None, settings, time_limit_s,
                workers, seed, started,
            )  # fmt: skip
        except Exception as error:
            log.exception("matching run %s failed", run_id)
            return fail(database, run_id, attempt, f"{type(error).__name__}: {error}", dispatcher)
        return finish_run(
            database,
            run_id,
            attempt,
            built,
            plan,
            elapsed_s=time.perf_counter() - started,
            dispatcher=dispatcher,
            deadline=deadline,
        )


def _fanned_out(
    problem: matching.Problem | None, built: BuiltProblem, settings: dict[str, int]
) -> FanOut | None:
    """The problem's parts when it is to be solved in parts: a first match (a re-match
    keeps standing proposals, solved whole), big enough, and in more than one part."""
    if problem is None or built.previous_plan is not None:
        return None
    fanned = fan_out(problem, settings["max_part_terms"])
    if fanned.terms < settings["min_terms"] or len(fanned.parts) < 2:
        return None
    return fanned


def _solve(
    database: Database,
    run_id: int,
    built: BuiltProblem,
    problem: matching.Problem | None,
    in_parts: bool,
    settings: dict[str, int],
    time_limit_s: float,
    workers: int | None,
    seed: int,
    started: float,
) -> dict[str, Any]:
    if problem is None:
        return {
            "status": "OPTIMAL",
            "objective": 0.0,
            "bound": 0.0,
            "assignments": [],
            "unassigned": [],
            "solve_s": 0.0,
            "fill": 1.0,
        }
    progress = ProgressWriter(database, run_id, started)
    progress.write()
    if in_parts:
        plan = solve_fanned(
            problem,
            time_limit_s,
            seed,
            processes=settings["slots"],
            max_part_terms=settings["max_part_terms"],
            on_progress=progress,
        ).plan
    elif built.previous_plan is not None:
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
