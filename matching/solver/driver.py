"""`solve` and re-matching's entry: the problem compiled, a constructive start, then
the search (`Search`)."""

from __future__ import annotations

import time
from typing import TypeVar

from matching.bound import LpBound, lp_seconds, lp_solution
from matching.heuristic import greedy, lp_rounding
from matching.instance import Allocation, Instance, compile_problem
from matching.objective import COST, FILL, KEEP, kept_amounts_of
from matching.problem import Plan, Problem
from matching.solver.progress import ProgressCallback
from matching.solver.search import Search

DEFAULT_TIME_LIMIT_S = 10.0
DEFAULT_WORKERS = 2
# The LP start is used when the LP takes at most this share of the time limit: it is
# worth far more than the same time spent searching from the greedy start.
LP_START_SHARE = 0.5

T = TypeVar("T")


def solve(
    problem: Problem,
    time_limit_s: float | None = None,
    workers: int | None = None,
    seed: int = 0,
    hint: Plan | None = None,
    on_progress: ProgressCallback | None = None,
) -> Plan:
    """Allocate the problem's jobs: most priority-weighted work first, then least cost.

    `hint` is a previous plan whose still-feasible part seeds the search. `on_progress`
    gets a dict (fill: weighted share placed, cost, bound: null while searching,
    elapsed_s) whenever a better plan is found; during a long CP-SAT phase one of fill
    and cost may be null. It is called from the solver's threads, one call at a time. With
    `workers=1` the time limit is counted in CP-SAT deterministic time, so the same
    problem and seed always give the same plan.

    Status: OPTIMAL when fill and then cost are proven optimal for the problem as given
    (never with splittable jobs, which are placed in steps of 0.1% of the job, nor when
    hours, costs or priorities have more than 6 decimals and had to be rounded),
    FEASIBLE otherwise. A plan that leaves jobs unassigned is still a valid plan, so
    there is always one: INFEASIBLE and UNKNOWN are never returned, and should the
    search end on an infeasible allocation (a bug), the constructive start's plan is
    returned instead.
    """
    return allocate(problem, time_limit_s, workers, seed, hint, on_progress)


def allocate(
    problem: Problem,
    time_limit_s: float | None,
    workers: int | None,
    seed: int,
    hint: Plan | None,
    on_progress: ProgressCallback | None,
    keep: Plan | None = None,
) -> Plan:
    """`solve`, and with `keep` re-matching: KEEP (hours of `keep` left in place) then
    comes between the fill and the cost."""
    started = time.perf_counter()
    limit = _first(time_limit_s, problem.params.time_limit_s, DEFAULT_TIME_LIMIT_S)
    threads = int(_first(workers, problem.params.workers, DEFAULT_WORKERS))
    instance = compile_problem(problem)
    start = instance.allocation_from_plan(hint) if hint is not None else None
    kept_amounts = None
    levels = [FILL, COST]
    if keep is not None:
        kept_amounts = kept_amounts_of(instance.allocation_from_plan(keep))
        levels = [FILL, KEEP, COST]
    allocation, lp_start, lp_fractions = _constructive_start(
        instance, start, limit, with_lp=keep is None
    )
    search = Search(
        instance,
        allocation,
        levels=levels,
        kept_amounts=kept_amounts,
        time_limit_s=limit,
        workers=threads,
        seed=seed,
        on_progress=on_progress,
        lp_start=lp_start,
        lp_fractions=lp_fractions,
        started=started,
    )
    search.progress.report(search.incumbent.allocation)
    search.optimize()
    return search.plan()


def _constructive_start(
    instance: Instance, start: Allocation | None, time_limit_s: float, with_lp: bool
) -> tuple[Allocation, LpBound | None, dict[int, list[tuple[int, int, float]]] | None]:
    """Greedy from `start`, or the LP solution rounded when that is better and the time
    limit affords the LP; with the LP and its solution, if it was solved."""
    allocation = greedy(instance, start)
    if not with_lp or lp_seconds(instance.size()) > LP_START_SHARE * time_limit_s:
        return allocation, None, None
    lp_start, fractions = lp_solution(instance)
    rounded = lp_rounding(instance, fractions)
    best = max(allocation, rounded, key=lambda a: _lexicographic(instance, a))
    return best, lp_start, fractions


def _lexicographic(instance: Instance, allocation: Allocation) -> tuple[int, int]:
    fill, cost = instance.score(allocation)
    return fill, -cost


def _first(*values: T | None) -> T:
    return next(v for v in values if v is not None)
