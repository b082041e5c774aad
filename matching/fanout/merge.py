"""Putting the parts' plans together: one plan for the whole problem, and the LNS move
that reconciles the boundary of a group cut into regions.

A boundary job was solved in one region with that region's options only. The
reconciling move frees the group's jobs left (partly) unplaced and the boundary jobs
placed dearer than their cheapest option anywhere (`to_free`), fixes everything else,
and solves the freed jobs with all their options on the capacity the fixed jobs leave,
starting from where they stand, so the move never loses fill.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from matching.fanout.split import Cut, sub_problem
from matching.problem import (
    Assignment,
    CapacityEntry,
    Factory,
    Plan,
    PlanStatus,
    Problem,
    Unassigned,
)
from matching.solver import solve

PLACED = 1e-9  # a share of a job below this counts as not placed


def plan_of(
    problem: Problem,
    assignments: Iterable[Assignment],
    *,
    status: PlanStatus,
    bound: float | None,
    solve_s: float,
) -> Plan:
    """The whole problem's plan from its assignments: cost, unassigned hours and fill
    recomputed from the problem (the parts' own figures cover only their jobs)."""
    kept = list(assignments)
    option_of = {
        (job.id, option.factory): (job.hours_at(option), option.cost)
        for job in problem.jobs
        for option in job.options
    }
    share: dict[str, float] = {}
    cost = 0.0
    for a in kept:
        hours, price = option_of[(a.job, a.factory)]
        share[a.job] = share.get(a.job, 0.0) + a.hours / hours
        cost += a.hours / hours * price
    unassigned = []
    weighted = total = 0.0
    for job in problem.jobs:
        placed = min(1.0, share.get(job.id, 0.0))
        if 1.0 - placed > PLACED:
            unassigned.append(Unassigned(job=job.id, hours=round((1.0 - placed) * job.hours, 9)))
        weighted += job.priority * placed
        total += job.priority
    return Plan(
        status=status,
        objective=round(cost, 6),
        bound=None if bound is None else round(bound, 6),
        assignments=tuple(kept),
        unassigned=tuple(unassigned),
        solve_s=round(solve_s, 3),
        fill=weighted / total if total else 1.0,
    )


def merged_status(plans: Iterable[Plan], cut: bool) -> tuple[PlanStatus, float | None]:
    """Status and bound of the merged plan: OPTIMAL and a bound only when every part is
    the whole of its group (a regional part is optimal only for its region)."""
    statuses = []
    bound: float | None = 0.0
    for plan in plans:
        statuses.append(plan.status)
        bound = None if bound is None or plan.bound is None else bound + plan.bound
    if cut:
        return "FEASIBLE", None
    return ("OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else "FEASIBLE"), bound


def to_free(problem: Problem, cut: Cut, assignments: list[Assignment]) -> set[int]:
    """The jobs of the cut group a reconciling move frees: those left (partly) unplaced,
    and the boundary jobs placed dearer than their cheapest option anywhere (a region
    saw only its own options). A boundary job already at its cheapest stays: freeing it
    could only move capacity, and with fifty options a job most jobs are on a boundary."""
    jobs = {problem.jobs[j].id: j for j in cut.jobs}
    option_of = {
        (job.id, o.factory): (job.hours_at(o), o.cost)
        for job in (problem.jobs[j] for j in cut.jobs)
        for o in job.options
    }
    share: dict[str, float] = {}
    cost: dict[str, float] = {}
    for a in assignments:
        if a.job in jobs:
            hours, price = option_of[(a.job, a.factory)]
            share[a.job] = share.get(a.job, 0.0) + a.hours / hours
            cost[a.job] = cost.get(a.job, 0.0) + a.hours / hours * price
    credit = {f.id: f.credit for f in problem.factories}
    freed = {j for job_id, j in jobs.items() if 1.0 - min(1.0, share.get(job_id, 0.0)) > PLACED}
    for j in cut.boundary:
        job = problem.jobs[j]
        allowed = [o.cost for o in job.options if credit.get(o.factory, 1.0) >= job.min_credit]
        if allowed and cost.get(job.id, 0.0) > min(allowed) * (1 + 1e-9) + 1e-9:
            freed.add(j)
    return freed


def reconcile(
    problem: Problem,
    cut: Cut,
    assignments: list[Assignment],
    freed: set[int],
    *,
    time_limit_s: float,
    workers: int | None,
    seed: int,
) -> list[Assignment]:
    """`assignments` (of the whole problem) with the `freed` jobs of the cut group
    (`to_free`) solved again on the capacity the others leave."""
    if not freed:
        return assignments
    jobs = {problem.jobs[j].id: j for j in cut.jobs}
    freed_ids = {problem.jobs[j].id for j in freed}
    used: dict[tuple[str, str, str], float] = {}
    for a in assignments:
        if a.job in jobs and a.job not in freed_ids:
            key = (a.factory, problem.jobs[jobs[a.job]].resource, a.period)
            used[key] = used.get(key, 0.0) + a.hours
    freed_jobs = [problem.jobs[j] for j in sorted(freed)]
    resources = {job.resource for job in freed_jobs}
    wanted = {o.factory for job in freed_jobs for o in job.options}
    factories = [_residual(f, resources, used) for f in problem.factories if f.id in wanted]
    sub = sub_problem(problem, freed_jobs, factories)
    hint = Plan(
        status="FEASIBLE",
        objective=0.0,
        bound=None,
        assignments=tuple(a for a in assignments if a.job in freed_ids),
        unassigned=(),
        solve_s=0.0,
    )
    plan = solve(sub, time_limit_s, workers, seed, hint=hint)
    return [a for a in assignments if a.job not in freed_ids] + list(plan.assignments)


def _residual(
    factory: Factory, resources: set[str], used: dict[tuple[str, str, str], float]
) -> Factory:
    """The factory with only the capacity of `resources`, less what fixed jobs use
    (rounded down to a millionth of an hour, so float noise never adds capacity)."""
    free: dict[tuple[str, str], float] = {}
    for entry in factory.capacity:
        if entry.resource in resources:
            key = (entry.resource, entry.period)
            free[key] = free.get(key, 0.0) + entry.hours
    capacity = []
    for (resource, period), hours in free.items():
        left = (
            math.floor((hours - used.get((factory.id, resource, period), 0.0)) * 1e6 + 1e-6) / 1e6
        )
        if left > 0:
            capacity.append(CapacityEntry(resource=resource, period=period, hours=left))
    return factory.model_copy(update={"capacity": tuple(capacity)})
