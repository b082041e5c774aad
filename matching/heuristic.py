"""Greedy constructive allocation: the warm start of CP-SAT and the benchmark's baseline.

Jobs in order of priority (highest first), then due date; each goes to its cheapest
option with room in the window, earliest periods first; a splittable job that does not
fit spills over to the next cheapest option.
"""

from __future__ import annotations

from matching.instance import Allocation, Choice, Instance, Placement


def greedy_order(instance: Instance) -> list[int]:
    problem = instance.problem

    def key(j: int) -> tuple[float, int, int]:
        return (-problem.jobs[j].priority, instance.jobs[j].due, j)

    return sorted(range(len(instance.jobs)), key=key)


def greedy(instance: Instance, start: Allocation | None = None) -> Allocation:
    """Complete `start` (or an empty allocation) greedily; placed work is never moved."""
    allocation: Allocation = list(start) if start else [() for _ in instance.jobs]
    free = [
        cap - used
        for cap, used in zip(instance.bucket_capacity, instance.usage(allocation), strict=True)
    ]
    for j in greedy_order(instance):
        info = instance.jobs[j]
        if info.splittable:
            allocation[j] = _place_splittable(instance, j, allocation[j], free)
        elif not allocation[j]:
            allocation[j] = _place_whole(instance, j, free)
    return allocation


def lp_rounding(
    instance: Instance, fractions: dict[int, list[tuple[int, int, float]]]
) -> Allocation:
    """Round an LP solution, then complete greedily.

    Jobs the LP places most surely go first. A splittable job takes its LP amounts
    rounded down; a non-splittable job goes whole to the choice with the largest LP
    share that still has room. What is left is placed by `greedy`.
    """
    allocation: Allocation = [() for _ in instance.jobs]
    free = list(instance.bucket_capacity)

    def certainty(j: int) -> tuple[float, float]:
        per_choice: dict[int, float] = {}
        for c, _, value in fractions[j]:
            per_choice[c] = per_choice.get(c, 0.0) + value
        return (-max(per_choice.values()), -instance.jobs[j].priority_units)

    for j in sorted(fractions, key=certainty):
        info = instance.jobs[j]
        if info.splittable:
            parts = []
            for c, p, value in fractions[j]:
                choice = info.choices[c]
                amount = min(
                    int(value * instance.split_units + 1e-9),
                    free[choice.buckets[p]] // choice.usage,
                )
                if amount > 0:
                    parts.append((c, p, amount))
                    free[choice.buckets[p]] -= amount * choice.usage
            allocation[j] = tuple(sorted(parts))
            continue
        per_choice: dict[int, float] = {}
        for c, _, value in fractions[j]:
            per_choice[c] = per_choice.get(c, 0.0) + value
        for c in sorted(per_choice, key=lambda c: -per_choice[c]):
            placement = _place_at(instance.jobs[j].choices[c], c, free)
            if placement:
                allocation[j] = placement
                break
    return greedy(instance, allocation)


def _place_at(choice: Choice, c: int, free: list[int]) -> Placement:
    """The job whole at `choice`, earliest periods first, if its window has room."""
    room = [free[b] // choice.usage for b in choice.buckets]
    if sum(room) < choice.full:
        return ()
    placement = []
    remaining = choice.full
    for p, b in enumerate(choice.buckets):
        amount = min(remaining, room[p])
        if amount:
            placement.append((c, p, amount))
            free[b] -= amount * choice.usage
            remaining -= amount
        if not remaining:
            break
    return tuple(placement)


def _by_cost(instance: Instance, j: int) -> list[int]:
    choices = instance.jobs[j].choices
    return sorted(range(len(choices)), key=lambda c: (choices[c].cost, choices[c].hours, c))


def _place_whole(instance: Instance, j: int, free: list[int]) -> Placement:
    choices = instance.jobs[j].choices
    for c in _by_cost(instance, j):
        placement = _place_at(choices[c], c, free)
        if placement:
            return placement
    return ()


def _place_splittable(
    instance: Instance, j: int, placement: Placement, free: list[int]
) -> Placement:
    choices = instance.jobs[j].choices
    amounts = {(c, p): amount for c, p, amount in placement}
    remaining = instance.split_units - sum(amounts.values())
    for c in _by_cost(instance, j):
        if not remaining:
            break
        choice = choices[c]
        for p, b in enumerate(choice.buckets):
            amount = min(remaining, free[b] // choice.usage)
            if amount:
                amounts[(c, p)] = amounts.get((c, p), 0) + amount
                free[b] -= amount * choice.usage
                remaining -= amount
            if not remaining:
                break
    return tuple((c, p, amount) for (c, p), amount in sorted(amounts.items()))
