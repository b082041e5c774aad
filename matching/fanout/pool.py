"""Solving a fanned-out problem: each part with the engine's `solve`, in a pool of
processes (or any map-like runner), then merged, reconciled and checked as one.

The marketplace's Celery workers run the same steps one part per task
(`solve_part`, then `finish`); this module is what runs them without Celery.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from matching.fanout.check import infeasibilities
from matching.fanout.merge import merged_status, plan_of, reconcile, to_free
from matching.fanout.split import DEFAULT_MAX_PART_TERMS, Cut, FanOut, Part, fan_out
from matching.problem import Plan, Problem
from matching.solver import DEFAULT_TIME_LIMIT_S, solve

MIN_PART_S = 1.0
PART_WORKERS = 1  # CP-SAT threads per part: the parallelism comes from the parts
# Of the time limit, for reconciling the boundaries of all cut groups together (shared
# in proportion to the jobs each frees): the merge is the one step no second worker
# can share.
RECONCILE_SHARE = 0.5


class MergedPlanInfeasible(RuntimeError):
    """The parts' plans together break the problem's constraints (a bug)."""


@dataclass(slots=True)
class PartResult:
    key: str
    plan: Plan
    jobs: int
    terms: int
    seconds: float
    priority: float = 0.0  # the part's jobs' total priority, to weigh its fill
    peak_rss_kb: int = 0


@dataclass(slots=True)
class FannedPlan:
    plan: Plan
    parts: list[PartResult] = field(default_factory=list)
    reconcile_s: float = 0.0
    merge_s: float = 0.0


def part_time_limit(terms: int, total_terms: int, time_limit_s: float, slots: int) -> float:
    """A part's share of the run's time limit: `slots` processes (or workers) together
    have `slots` x the limit, shared in proportion to size; no part gets more than the
    limit itself, nor less than MIN_PART_S."""
    share = time_limit_s * slots * terms / max(total_terms, 1)
    return min(time_limit_s, max(MIN_PART_S, share))


def solve_part(
    key: str,
    problem: Problem,
    jobs: int,
    terms: int,
    time_limit_s: float,
    seed: int,
    workers: int = PART_WORKERS,
) -> PartResult:
    """One part with the engine (`workers` = 1: reproducible, the limit counted in
    deterministic time; more: wall-clock time); picklable, for a process pool."""
    started = time.perf_counter()
    plan = solve(problem, time_limit_s, workers, seed)
    return PartResult(
        key,
        plan,
        jobs,
        terms,
        time.perf_counter() - started,
        priority=sum(job.priority for job in problem.jobs),
        peak_rss_kb=peak_rss_kb(),
    )


def finish(
    problem: Problem,
    cuts: list[Cut],
    results: list[PartResult],
    *,
    time_limit_s: float,
    seed: int,
    started: float,
    workers: int = PART_WORKERS,
) -> FannedPlan:
    """The parts' plans merged, each cut group's boundary reconciled, the whole checked;
    raises MergedPlanInfeasible if the merged plan breaks a constraint."""
    assignments = [a for result in results for a in result.plan.assignments]
    reconcile_started = time.perf_counter()
    # Cut groups share no capacity: what one frees does not depend on another's move.
    freed = [to_free(problem, cut, assignments) for cut in cuts]
    all_freed = sum(len(f) for f in freed)
    for cut, jobs in zip(cuts, freed, strict=True):
        assignments = reconcile(
            problem,
            cut,
            assignments,
            jobs,
            time_limit_s=max(
                MIN_PART_S, RECONCILE_SHARE * time_limit_s * len(jobs) / max(all_freed, 1)
            ),
            workers=workers,
            seed=seed,
        )
    merge_started = time.perf_counter()
    status, bound = merged_status((r.plan for r in results), cut=bool(cuts))
    plan = plan_of(
        problem, assignments, status=status, bound=bound, solve_s=time.perf_counter() - started
    )
    errors = infeasibilities(problem, plan)
    if errors:
        raise MergedPlanInfeasible("; ".join(errors))
    return FannedPlan(
        plan,
        results,
        reconcile_s=merge_started - reconcile_started,
        merge_s=time.perf_counter() - merge_started,
    )


def part_arguments(
    fanned: FanOut, time_limit_s: float, seed: int, slots: int, workers: int = PART_WORKERS
) -> list[tuple[Any, ...]]:
    """`solve_part`'s arguments for each part, largest first."""
    total = fanned.terms
    return [
        (
            p.key,
            p.problem,
            len(p.jobs),
            p.terms,
            part_time_limit(p.terms, total, time_limit_s, slots),
            seed,
            workers,
        )
        for p in _largest_first(fanned.parts)
    ]


def solve_fanned(
    problem: Problem,
    time_limit_s: float | None = None,
    seed: int = 0,
    *,
    processes: int | None = None,
    max_part_terms: int = DEFAULT_MAX_PART_TERMS,
    workers: int = PART_WORKERS,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> FannedPlan:
    """Solve `problem` part by part in a pool of `processes` (default: the CPUs), each
    part given its share of `time_limit_s`; one process runs the parts in turn here."""
    started = time.perf_counter()
    limit = time_limit_s or problem.params.time_limit_s or DEFAULT_TIME_LIMIT_S
    fanned = fan_out(problem, max_part_terms)
    slots = processes or os.cpu_count() or 1
    arguments = part_arguments(fanned, limit, seed, slots, workers)
    count = min(slots, len(arguments))
    results: list[PartResult] = []
    if count <= 1:
        for args in arguments:
            results.append(solve_part(*args))
            _report(on_progress, problem, results, len(arguments), started)
    else:
        # Spawned, not forked: the caller may be a threaded web or worker process.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(count, mp_context=context) as pool:
            futures = [pool.submit(solve_part, *args) for args in arguments]
            for future in futures:
                results.append(future.result())
                _report(on_progress, problem, results, len(arguments), started)
    return finish(
        problem,
        fanned.cuts,
        results,
        time_limit_s=limit,
        seed=seed,
        started=started,
        workers=workers,
    )


def progress_of(
    problem: Problem, results: list[PartResult], parts: int, started: float
) -> dict[str, Any]:
    """The run's progress while parts finish: fill counts the jobs of parts not solved
    yet as unplaced, cost is what the solved parts place."""
    total = sum(job.priority for job in problem.jobs) or 1.0
    return {
        "fill": sum((r.plan.fill or 0.0) * r.priority for r in results) / total,
        "cost": round(sum(r.plan.objective for r in results), 6),
        "bound": None,
        "elapsed_s": round(time.perf_counter() - started, 2),
        "parts_done": len(results),
        "parts": parts,
    }


def _report(
    on_progress: Callable[[dict[str, Any]], None] | None,
    problem: Problem,
    results: list[PartResult],
    parts: int,
    started: float,
) -> None:
    if on_progress is not None:
        on_progress(progress_of(problem, results, parts, started))


def _largest_first(parts: list[Part]) -> list[Part]:
    """Longest processing time first: the big parts do not end up last on one worker."""
    return sorted(parts, key=lambda p: -p.terms)


def peak_rss_kb() -> int:
    """This process's resident memory high-water mark (ru_maxrss, kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
