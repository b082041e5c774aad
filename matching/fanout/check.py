"""The feasibility check of a merged plan against the whole problem: the parts were
checked by the engine one by one, this checks that together they still hold."""

from __future__ import annotations

from matching.problem import Plan, Problem

TOLERANCE = 1e-6


def infeasibilities(problem: Problem, plan: Plan, limit: int = 20) -> list[str]:
    """What breaks the contract in `plan` (at most `limit` lines); empty if feasible."""
    errors: list[str] = []
    periods = {name: t for t, name in enumerate(problem.periods)}
    factories = {f.id: f for f in problem.factories}
    jobs = {job.id: job for job in problem.jobs}
    capacity: dict[tuple[str, str, str], float] = {}
    for factory in problem.factories:
        for entry in factory.capacity:
            key = (factory.id, entry.resource, entry.period)
            capacity[key] = capacity.get(key, 0.0) + entry.hours
    used: dict[tuple[str, str, str], float] = {}
    share: dict[str, float] = {}
    factories_of: dict[str, set[str]] = {}
    for a in plan.assignments:
        job = jobs.get(a.job)
        option = next((o for o in job.options if o.factory == a.factory), None) if job else None
        if job is None or option is None:
            errors.append(f"{a.job} at {a.factory}: not an option of the job")
            continue
        t = periods.get(a.period)
        release = periods[job.release_period] if job.release_period else 0
        due = periods[job.due_period] if job.due_period else len(periods) - 1
        if t is None or not release <= t <= due - option.lead_periods:
            errors.append(f"{a.job} at {a.factory}: {a.period} outside the job's window")
        if factories[a.factory].credit < job.min_credit:
            errors.append(f"{a.job} at {a.factory}: credit below the job's minimum")
        key = (a.factory, job.resource, a.period)
        used[key] = used.get(key, 0.0) + a.hours
        share[a.job] = share.get(a.job, 0.0) + a.hours / job.hours_at(option)
        factories_of.setdefault(a.job, set()).add(a.factory)
    for key, hours in used.items():
        if hours > capacity.get(key, 0.0) + TOLERANCE * max(1.0, hours):
            errors.append(f"{key}: {hours:g} h used of {capacity.get(key, 0.0):g}")
    for job_id, placed in share.items():
        job = jobs[job_id]
        if placed > 1 + TOLERANCE:
            errors.append(f"{job_id}: more than the whole job placed")
        if not job.splittable and (len(factories_of[job_id]) > 1 or placed < 1 - TOLERANCE):
            errors.append(f"{job_id}: not placed whole on one factory")
    unassigned = {u.job: u.hours for u in plan.unassigned}
    for job in problem.jobs:
        total = share.get(job.id, 0.0) + unassigned.get(job.id, 0.0) / job.hours
        if abs(total - 1.0) > TOLERANCE:
            errors.append(f"{job.id}: placed and unassigned shares add up to {total:g}")
    return errors[:limit]
