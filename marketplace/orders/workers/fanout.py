"""A run solved in parts on Celery: one task per independent group of its problem
(`matching.fanout`), the last part to finish merges the plans and applies them.

`execute_run` builds the problem as for any run; when it is big and falls apart into
groups, `store_parts` keeps each part's sub-problem (compressed) on `match_run_part`
and the dispatcher sends one `orders.solve_part` task per part as a Celery group. A
part task solves its part with a heartbeat on the run, stores its plan and the run's
progress, and whoever stores the last plan claims the merge (one conditional update
on `match_run_fanout`): the regions' boundaries are reconciled, the merged plan is
checked against the whole problem and applied like any run's. A part delivered twice
solves nothing twice; a part of an attempt the run no longer runs does nothing.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import asdict, fields
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

import matching
from factories.models import decompress_json, deferred, utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import MatchRun, MatchRunFanout, MatchRunPart, MatchRunState
from marketplace.orders.runs.problem import BuiltProblem, Candidate
from marketplace.orders.workers.ending import fail, finish_run
from marketplace.orders.workers.heartbeat import Heartbeat
from matching.fanout import Cut, FanOut, PartResult, finish, part_arguments, solve_part

log = logging.getLogger(__name__)


def store_parts(
    database: Database,
    run_id: int,
    attempt: int,
    built: BuiltProblem,
    fanned: FanOut,
    *,
    time_limit_s: float,
    seed: int,
    slots: int,
) -> int:
    """Keep the parts of this attempt (replacing an earlier attempt's); their count."""
    arguments = part_arguments(fanned, time_limit_s, seed, slots)
    with database.session() as session:
        session.execute(sa.delete(MatchRunFanout).where(col(MatchRunFanout.match_run_id) == run_id))
        session.add(
            MatchRunFanout(
                match_run_id=run_id,
                attempt=attempt,
                parts=len(arguments),
                seed=seed,
                context={
                    "cuts": [asdict(cut) for cut in fanned.cuts],
                    "skipped": {str(line): why for line, why in built.skipped.items()},
                    "candidates": _candidates_stored(built.candidates),
                },
            )
        )
        session.flush()
        for part_no, (key, problem, jobs, terms, limit, _, _) in enumerate(arguments):
            row = MatchRunPart(
                match_run_id=run_id,
                part_no=part_no,
                key=key,
                jobs=jobs,
                terms=terms,
                time_limit_s=limit,
                problem=problem.model_dump(mode="json", exclude_none=True),
            )
            session.add(row)
            # Written (compressed) and let go one part at a time: the parts together
            # are the whole problem again.
            session.flush()
            session.expunge(row)
        _write_progress(
            session, run_id, {"phase": "solving", "parts": len(arguments), "parts_done": 0}
        )
    return len(arguments)


def solve_run_part(
    database: Database,
    run_id: int,
    part_no: int,
    *,
    dispatcher: outbox.Dispatcher | None = None,
    deadline: timedelta,
) -> MatchRun | None:
    """Solve one part of a fanned-out run; the run, finished, if this part was the last
    (None otherwise, or when the part is not this run's current attempt's)."""
    with database.session() as session:
        fanout = session.get(MatchRunFanout, run_id, options=[deferred(MatchRunFanout, "context")])
        part = session.get(MatchRunPart, (run_id, part_no))
        run = session.exec(
            select(MatchRun.state, MatchRun.attempts).where(MatchRun.id == run_id)
        ).first()
        if (
            fanout is None
            or part is None
            or run is None
            or run[0] != MatchRunState.RUNNING
            or run[1] != fanout.attempt
        ):
            return None
        attempt = fanout.attempt
        seed = fanout.seed
        pending = (
            None
            if part.plan is not None
            else (part.key, part.problem, part.jobs, part.terms, part.time_limit_s)
        )
    if pending is not None:
        key, data, jobs, terms, limit = pending
        with Heartbeat(database, run_id, attempt):
            try:
                result = solve_part(
                    key, matching.Problem.model_validate(data), jobs, terms, limit, seed
                )
            except Exception as error:
                log.exception("run %s: part %s failed", run_id, key)
                return fail(
                    database, run_id, attempt, f"{type(error).__name__}: {error}", dispatcher
                )
        _store_plan(database, run_id, part_no, result)
    if not _claim_merge(database, run_id, attempt):
        return None
    return _merge(database, run_id, attempt, dispatcher=dispatcher, deadline=deadline)


def _store_plan(database: Database, run_id: int, part_no: int, result: PartResult) -> None:
    with database.session() as session:
        part = session.exec(
            select(MatchRunPart)
            .where(MatchRunPart.match_run_id == run_id, MatchRunPart.part_no == part_no)
            .with_for_update()
        ).one()
        if part.plan is not None:
            return
        part.plan = result.plan.model_dump(mode="json")
        part.fill = result.plan.fill
        part.cost = result.plan.objective
        part.solve_s = round(result.seconds, 3)
        part.peak_rss_kb = result.peak_rss_kb
        part.finished_at = utcnow()
        session.flush()
        done = session.exec(
            select(MatchRunPart.jobs, MatchRunPart.fill, MatchRunPart.cost).where(
                MatchRunPart.match_run_id == run_id, col(MatchRunPart.plan).is_not(None)
            )
        ).all()
        all_jobs = session.exec(
            select(sa.func.sum(MatchRunPart.jobs), sa.func.count()).where(
                MatchRunPart.match_run_id == run_id
            )
        ).one()
        started = session.exec(select(MatchRun.started_at).where(MatchRun.id == run_id)).first()
        _write_progress(
            session,
            run_id,
            {
                "phase": "solving",
                # Jobs of parts not solved yet count as not placed (every job weighs 1).
                "fill": sum(jobs * (fill or 0.0) for jobs, fill, _ in done)
                / max(all_jobs[0] or 0, 1),
                "cost": round(sum(cost or 0.0 for _, _, cost in done), 2),
                "bound": None,
                "elapsed_s": round((utcnow() - started).total_seconds(), 2) if started else None,
                "parts": all_jobs[1],
                "parts_done": len(done),
            },
        )


def _claim_merge(database: Database, run_id: int, attempt: int) -> bool:
    """Whether this call is the one to merge: every part solved, nobody merging yet."""
    with database.session() as session:
        unsolved = session.exec(
            select(sa.func.count()).where(
                MatchRunPart.match_run_id == run_id, col(MatchRunPart.plan).is_(None)
            )
        ).one()
        if unsolved:
            return False
        claimed = session.exec(
            sa.update(MatchRunFanout)
            .where(
                col(MatchRunFanout.match_run_id) == run_id,
                col(MatchRunFanout.attempt) == attempt,
                col(MatchRunFanout.merged_at).is_(None),
            )
            .values(merged_at=utcnow())
        ).rowcount
        return claimed == 1


def _merge(
    database: Database,
    run_id: int,
    attempt: int,
    *,
    dispatcher: outbox.Dispatcher | None,
    deadline: timedelta,
) -> MatchRun | None:
    with database.session() as session:
        run = session.get(MatchRun, run_id, options=[deferred(MatchRun, "problem")])
        fanout = session.get(MatchRunFanout, run_id)
        assert run is not None and fanout is not None
        stored = _stored_problem(session, run_id)
        time_limit_s = run.time_limit_s
        started_at = run.started_at or utcnow()
        context = fanout.context
        seed = fanout.seed
        parts = session.exec(
            select(MatchRunPart)
            .options(deferred(MatchRunPart, "problem"))
            .where(MatchRunPart.match_run_id == run_id)
            .order_by(col(MatchRunPart.part_no))
        ).all()
        results = [
            PartResult(p.key, matching.load_plan(p.plan or {}), p.jobs, p.terms, p.solve_s or 0.0)
            for p in parts
        ]
    _write_progress_now(database, run_id, {"phase": "merging"})
    # The engine's model straight from the stored JSON, and the plain document only once
    # the model is gone: a national problem is held once at a time, not twice.
    problem = matching.Problem.model_validate_json(zlib.decompress(stored))
    cuts = [Cut(**cut) for cut in context["cuts"]]
    with Heartbeat(database, run_id, attempt):
        try:
            merged = finish(
                problem,
                cuts,
                results,
                time_limit_s=time_limit_s,
                seed=seed,
                started=time.perf_counter(),
            )
        except Exception as error:
            log.exception("run %s: merging its parts failed", run_id)
            return fail(database, run_id, attempt, f"{type(error).__name__}: {error}", dispatcher)
    plan = merged.plan.model_dump(mode="json")
    del problem, merged, results
    problem_data = decompress_json(stored)
    del stored
    with database.session() as session:
        session.execute(
            sa.update(MatchRunFanout)
            .where(col(MatchRunFanout.match_run_id) == run_id)
            .values(checked_at=utcnow())
        )
    # While the plan is applied, the run shows the merged plan's figures.
    _write_progress_now(
        database,
        run_id,
        {
            "phase": "applying",
            "fill": plan["fill"],
            "cost": plan["objective"],
            "bound": plan["bound"],
        },
    )
    plan["solve_s"] = round((utcnow() - started_at).total_seconds(), 3)
    built = BuiltProblem(
        problem=problem_data,
        previous_plan=None,
        skipped={int(line): why for line, why in context["skipped"].items()},
        candidates=_candidates_read(context["candidates"]),
    )
    with Heartbeat(database, run_id, attempt):
        return finish_run(
            database,
            run_id,
            attempt,
            built,
            plan,
            elapsed_s=plan["solve_s"],
            dispatcher=dispatcher,
            deadline=deadline,
        )


CANDIDATE_FIELDS = [f.name for f in fields(Candidate)]


def _candidates_stored(candidates: dict[str, dict[str, Candidate]]) -> dict[str, Any]:
    """Each job's candidates as positions in one table of distinct candidates: the jobs
    delivered to one place share theirs, and a national run has a hundred thousand jobs."""
    position: dict[int, int] = {}
    table: list[list[Any]] = []
    jobs: dict[str, list[int]] = {}
    for job, by_line in candidates.items():
        mine = []
        for candidate in by_line.values():
            at = position.get(id(candidate))
            if at is None:
                at = position[id(candidate)] = len(table)
                table.append([getattr(candidate, name) for name in CANDIDATE_FIELDS])
            mine.append(at)
        jobs[job] = mine
    return {"fields": CANDIDATE_FIELDS, "table": table, "jobs": jobs}


def _candidates_read(stored: dict[str, Any]) -> dict[str, dict[str, Candidate]]:
    rows = [Candidate(**dict(zip(stored["fields"], row, strict=True))) for row in stored["table"]]
    return {
        job: {rows[at].problem_id: rows[at] for at in positions}
        for job, positions in stored["jobs"].items()
    }


def _stored_problem(session: Any, run_id: int) -> bytes:
    """The run's problem as stored: compressed JSON (`factories.models.CompressedJson`)."""
    raw = sa.type_coerce(col(MatchRun.problem), sa.LargeBinary)
    return session.execute(sa.select(raw).where(col(MatchRun.id) == run_id)).scalar_one()


def _write_progress(session: Any, run_id: int, progress: dict[str, Any]) -> None:
    session.execute(
        sa.update(MatchRun)
        .where(col(MatchRun.id) == run_id, col(MatchRun.state) == MatchRunState.RUNNING)
        .values(progress=progress)
    )


def _write_progress_now(database: Database, run_id: int, update: dict[str, Any]) -> None:
    with database.session() as session:
        progress = session.exec(select(MatchRun.progress).where(MatchRun.id == run_id)).first()
        if progress is not None:
            _write_progress(session, run_id, {**progress, **update})
