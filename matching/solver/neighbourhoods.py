"""Which jobs an LNS move frees, and on which factories: a neighbourhood of the
incumbent. Called with the incumbent's lock held."""

from __future__ import annotations

import random

from matching.solver.groups import Group
from matching.solver.incumbent import Incumbent

# Factories whose jobs an LNS move may rearrange: few (all their jobs) or many (a sample).
FEW_FACTORIES, MANY_FACTORIES = (2, 5), (30, 60)
FEW_FACTORIES_SHARE = 0.5
FEW_SHARE = (0.15, 0.35)  # of the group's factories, widening FEW_FACTORIES for big groups


def neighbourhood(
    incumbent: Incumbent, group: Group, rng: random.Random
) -> tuple[list[int], set[int] | None]:
    """Jobs to free and the factories they may use (None: all of the group's): the
    factories of a seed job's options, extended until about `group.neighbourhood` jobs
    are free. Factories and jobs reserved by a concurrent move are left out."""
    instance, allocation = incumbent.instance, incumbent.allocation
    target = max(1, round(group.neighbourhood))
    busy_factories, busy_jobs = incumbent.reserved_factories, incumbent.reserved_jobs
    if target >= len(group.jobs):
        if busy_factories.intersection(group.factories):
            return [], None
        return list(group.jobs), None
    seed_job = _seed_job(incumbent, group, rng)
    if seed_job in busy_jobs:
        return [], None
    # Alternate: a few factories with all their jobs (exact reshuffles among them),
    # or many factories with a sample of their jobs (long-range moves).
    few = rng.random() < FEW_FACTORIES_SHARE
    if few:
        size = len(group.factories)
        low, high = (max(FEW_FACTORIES[0], round(share * size)) for share in FEW_SHARE)
        factory_target = rng.randint(low, max(low, high, FEW_FACTORIES[1]))
    else:
        factory_target = rng.randint(*MANY_FACTORIES)
    factories: set[int] = set()
    frontier = _frontier(incumbent, seed_job, factories, rng)
    candidates: set[int] = set()
    while frontier and len(factories) < factory_target:
        f = frontier.pop()
        if f in factories or f in busy_factories:
            continue
        factories.add(f)
        for j in group.jobs_with_choice_at.get(f, ()):
            if j in busy_jobs:
                continue
            placed = {instance.jobs[j].choices[c].factory for c, _, _ in allocation[j]}
            if placed <= factories and (placed or not _complete(incumbent, j)):
                candidates.add(j)
        if not frontier and candidates:
            frontier = _frontier(incumbent, rng.choice(sorted(candidates)), factories, rng)
    jobs = sorted(candidates)
    if len(jobs) > (2 * target if few else target):
        # Prefer jobs that could do better: unplaced, or not on their cheapest option.
        weights = [3.0 if _improvable(incumbent, j) else 1.0 for j in jobs]
        keys = sorted(range(len(jobs)), key=lambda i: rng.random() ** (1 / weights[i]))
        jobs = sorted(jobs[i] for i in keys[-(2 * target if few else target) :])
    return jobs, factories


def _frontier(incumbent: Incumbent, j: int, taken: set[int], rng: random.Random) -> list[int]:
    """Factories of job j's options to visit next (popped from the end): cheapest
    first half of the time, which steers moves toward cheaper placements."""
    choices = [c for c in incumbent.instance.jobs[j].choices if c.factory not in taken]
    if rng.random() < 0.5:
        choices.sort(key=lambda c: -c.cost)
    else:
        rng.shuffle(choices)
    return [c.factory for c in choices]


def _seed_job(incumbent: Incumbent, group: Group, rng: random.Random) -> int:
    if rng.random() < 0.5:
        improvable = [j for j in group.jobs if _improvable(incumbent, j)]
        if improvable:
            return rng.choice(improvable)
    return rng.choice(group.jobs)


def _complete(incumbent: Incumbent, j: int) -> bool:
    instance = incumbent.instance
    return instance.job_fill(j, incumbent.allocation[j]) >= instance.jobs[j].fill_full


def _improvable(incumbent: Incumbent, j: int) -> bool:
    """Whether job j is not placed whole, or not on its cheapest option."""
    placement = incumbent.allocation[j]
    if not _complete(incumbent, j):
        return True
    info = incumbent.instance.jobs[j]
    cheapest = min(c.cost_units for c in info.choices)
    return any(info.choices[c].cost_units > cheapest for c, _, _ in placement)
