"""What a finished search proves: whether its plan is optimal, and a lower bound on
the cost of any plan that places as much work."""

from __future__ import annotations

import math

from matching.bound import LpBound, lp_min_cost
from matching.instance import Allocation, Instance
from matching.solver.groups import Group


def is_proven_optimal(instance: Instance, groups: list[Group]) -> bool:
    """Whether the plan is proven optimal for the problem itself: every group closed
    by CP-SAT on an integer instance that is the problem exactly (no splittable job
    moving in 0.1% steps, no rounded hours, costs or priorities). Without any group
    nothing can be placed, provided rounding dropped no choice."""
    return (
        all(g.proven for g in groups)
        and instance.complete
        and (not groups or (instance.split_units == 1 and instance.exact))
    )


def reaches_lp_fill(instance: Instance, allocation: Allocation, lp: LpBound | None) -> bool:
    """Whether `allocation` places as much weighted work as the LP `lp` (if solved)."""
    if lp is None:
        return False
    fill = instance.weighted_fill(allocation)
    return fill >= lp.fill * (1 - 1e-9) - 1e-9


def cost_bound(
    instance: Instance, allocation: Allocation, groups: list[Group], lp_start: LpBound | None
) -> float | None:
    """Sum over groups of the best proven lower bound on the group's cost at its fill.

    CP-SAT's bound only counts when the integer model is exact (no splittable job
    rounded to 0.1% steps, no hours, costs or priorities rounded); the LP bound
    counts when the instance kept every choice the problem allows (otherwise there is
    no bound: None). `lp_start` is the LP solved for the constructive start, if any.
    """
    if not instance.complete:
        return None
    exact = instance.split_units == 1 and instance.exact
    if lp_start is not None and reaches_lp_fill(instance, allocation, lp_start):
        # The plan reaches the LP's maximum fill: the LP solved for the start already
        # bounds its cost, no need to solve one per group again.
        total = lp_start.cost
        group_bounds = [g.cost_bound for g in groups]
        if exact and all(b is not None for b in group_bounds):
            total = max(total, sum(instance.cost_value(b) for b in group_bounds if b is not None))
        return _rounded(instance, min(total, instance.real_cost(allocation)), exact)
    total = 0.0
    for group in groups:
        fill, _ = instance.score(allocation, group.jobs)
        best = None
        if exact and group.cost_bound is not None and fill >= group.bound_fill:
            best = instance.cost_value(group.cost_bound)
        try:
            lp = lp_min_cost(instance, instance.weighted_fill(allocation, group.jobs), group.jobs)
            best = lp if best is None else max(best, lp)
        except RuntimeError:
            pass
        if best is None:
            return None
        total += min(best, instance.real_cost(allocation, group.jobs))
    return _rounded(instance, total, exact)


def _rounded(instance: Instance, bound: float, exact: bool) -> float:
    if not exact:
        return bound
    # Every plan then costs a whole number of cost units: round the bound up.
    scaled = bound * instance.cost_scale
    return math.ceil(scaled - 1e-6 - 1e-12 * abs(scaled)) / instance.cost_scale
