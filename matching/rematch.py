"""Re-matching after a factory declines or drops out."""

from __future__ import annotations

from matching.problem import Plan, Problem
from matching.solver import ProgressCallback, allocate


def rematch(
    problem: Problem,
    previous_plan: Plan,
    time_limit_s: float | None = None,
    workers: int | None = None,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
) -> Plan:
    """Re-solve `problem` (from which the lost capacity has been removed) disturbing
    `previous_plan` as little as possible.

    Lexicographic: most priority-weighted work placed, then fewest moved hours (hours of
    the previous plan no longer at the same job, factory and period), then least cost.
    """
    return allocate(
        problem,
        time_limit_s,
        workers,
        seed,
        hint=previous_plan,
        on_progress=on_progress,
        keep=previous_plan,
    )
