"""The lexicographic objective's levels, and their values on an integer allocation.

FILL: priority-weighted work placed (maximised first); KEEP, when re-matching: capacity
units of the previous plan left in place (maximised next); COST: total cost (minimised
last). `matching.cpsat` states them as CP-SAT expressions; here they are read off an
allocation, so that moves can be compared exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

from matching.instance import Allocation, Instance

FILL, KEEP, COST = "fill", "keep", "cost"
MAXIMIZED = {FILL: True, KEEP: True, COST: False}

# (job, choice, period position) -> amount of a previous plan.
KeptAmounts = dict[tuple[int, int, int], int]


def kept_amounts_of(allocation: Allocation) -> KeptAmounts:
    return {
        (j, c, p): amount for j, placement in enumerate(allocation) for c, p, amount in placement
    }


def level_value(
    instance: Instance,
    allocation: Allocation,
    jobs: Iterable[int],
    level: str,
    kept_amounts: KeptAmounts | None,
) -> int:
    """Value of `level` over `jobs` in `allocation`, as the level counts it (cost units
    for COST: smaller is better)."""
    if level == FILL:
        return sum(instance.job_fill(j, allocation[j]) for j in jobs)
    if level == COST:
        return sum(instance.job_cost(j, allocation[j]) for j in jobs)
    return kept_units(instance, allocation, jobs, kept_amounts or {})


def level_values(
    instance: Instance,
    allocation: Allocation,
    jobs: Iterable[int],
    levels: list[str],
    kept_amounts: KeptAmounts | None,
) -> tuple[int, ...]:
    """The objective levels of `jobs` in `allocation`, signed so that larger is better:
    tuples compare lexicographically."""
    jobs = list(jobs)
    return tuple(
        (1 if MAXIMIZED[level] else -1)
        * level_value(instance, allocation, jobs, level, kept_amounts)
        for level in levels
    )


def kept_units(
    instance: Instance,
    allocation: Allocation,
    jobs: Iterable[int],
    kept_amounts: KeptAmounts,
) -> int:
    """Capacity units of `kept_amounts` that `allocation` leaves where they were."""
    total = 0
    for j in jobs:
        for c, p, amount in allocation[j]:
            previous = kept_amounts.get((j, c, p), 0)
            total += min(previous, amount) * instance.jobs[j].choices[c].usage
    return total
