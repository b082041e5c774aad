"""Directed LNS neighbourhoods: around the most expensive placements, and toward the LP
solution (path relinking). Called with the incumbent's lock held.

Measured on the benchmark's instances, most of a plan's cost above the LP's cheapest
comes from splittable jobs and from whole jobs placed away from the choice the LP
gives them whole, and random neighbourhoods rarely free such a job together with the
jobs that hold its cheaper factories: a job spread over several factories is freed
only when all of them are in the move. These neighbourhoods start from such jobs.

* costly: seed jobs drawn in proportion to their regret (cost above the same amount at
  their cheapest choice), each with the factories it is placed at and those of a few
  cheaper choices;
* relink: seed jobs whose placement differs from the LP solution's, each with the
  factories it is placed at and the LP's;
* short: seed jobs not placed whole, each with the factories the LP gives it (else its
  cheapest choices'). The fill counts jobs, not hours, so each of them placed is worth
  as much as any placed job; the LP's cost at a lower fill drops the costliest work,
  and a plan's cost ratio at its own fill falls fastest as its fill rises.

Both then free every job placed only within those factories (and unplaced jobs that
could go there), keeping the seeds and, beyond the move's size, the jobs that regret
their placement most.
"""

from __future__ import annotations

import random

from matching.instance import Instance, Placement
from matching.solver.groups import Group
from matching.solver.incumbent import Incumbent

SEEDS = (2, 8)  # seed jobs per directed move
CHEAPER_FACTORIES = 3  # cheaper choices' factories added per costly seed
MAX_FACTORIES = 60


class LpGuide:
    """The LP solution per job: the fraction of the job at each choice, and its cost."""

    def __init__(self, instance: Instance, fractions: dict[int, list[tuple[int, int, float]]]):
        self.instance = instance
        self.shares: list[dict[int, float]] = [{} for _ in instance.jobs]
        for j, parts in fractions.items():
            for c, _, value in parts:
                self.shares[j][c] = self.shares[j].get(c, 0.0) + value

    def fill(self, jobs: list[int]) -> float:
        """Fill units the LP solution places of `jobs`."""
        infos = self.instance.jobs
        return sum(infos[j].fill_full * sum(self.shares[j].values()) for j in jobs)

    def differs(self, j: int, placement: Placement) -> bool:
        """Whether job j's placement is not the LP's: other choices, or (split) other
        amounts by more than 1% of the job."""
        info = self.instance.jobs[j]
        placed: dict[int, float] = {}
        for c, _, amount in placement:
            placed[c] = placed.get(c, 0.0) + amount / info.choices[c].full
        shares = self.shares[j]
        for c in set(placed) | set(shares):
            if abs(placed.get(c, 0.0) - shares.get(c, 0.0)) > 0.01:
                return True
        return False

    def factories(self, j: int) -> list[int]:
        """The factories the LP uses for job j, the largest share first."""
        choices = self.instance.jobs[j].choices
        ranked = sorted(self.shares[j], key=lambda c: (-self.shares[j][c], c))
        return [choices[c].factory for c in ranked]


def regret(instance: Instance, j: int, placement: Placement) -> int:
    """Cost units of job j's placement above the same amount at its cheapest choice."""
    info = instance.jobs[j]
    if not placement or not info.choices:
        return 0
    cheapest = min(c.cost_units for c in info.choices)
    if info.splittable:
        return sum((info.choices[c].cost_units - cheapest) * a for c, _, a in placement)
    return (info.choices[placement[0][0]].cost_units - cheapest) * instance.split_units


def costly_neighbourhood(
    incumbent: Incumbent, group: Group, rng: random.Random
) -> tuple[list[int], set[int] | None]:
    instance, allocation = incumbent.instance, incumbent.allocation
    regrets = [(j, regret(instance, j, allocation[j])) for j in group.jobs]
    regrets = [(j, r) for j, r in regrets if r > 0 and j not in incumbent.reserved_jobs]
    if not regrets:
        return [], None
    count = rng.randint(*SEEDS)
    drawn = rng.choices([j for j, _ in regrets], weights=[r for _, r in regrets], k=count)
    seeds = []
    for j in dict.fromkeys(drawn):
        info = instance.jobs[j]
        placed_cost = max(info.choices[c].cost_units for c, _, _ in allocation[j])
        cheaper = sorted(
            (c for c in info.choices if c.cost_units < placed_cost),
            key=lambda c: (c.cost_units, c.factory),
        )
        seeds.append((j, [c.factory for c in cheaper[:CHEAPER_FACTORIES]]))
    return _around(incumbent, group, rng, seeds)


def relink_neighbourhood(
    incumbent: Incumbent, group: Group, guide: LpGuide, rng: random.Random
) -> tuple[list[int], set[int] | None]:
    allocation = incumbent.allocation
    differing = [
        j
        for j in group.jobs
        if j not in incumbent.reserved_jobs and guide.differs(j, allocation[j])
    ]
    if not differing:
        return [], None
    count = min(len(differing), rng.randint(*SEEDS))
    seeds = [(j, guide.factories(j)) for j in rng.sample(differing, count)]
    return _around(incumbent, group, rng, seeds)


def short_neighbourhood(
    incumbent: Incumbent, group: Group, guide: LpGuide | None, rng: random.Random
) -> tuple[list[int], set[int] | None]:
    instance = incumbent.instance
    short = [
        j
        for j in group.jobs
        if j not in incumbent.reserved_jobs
        and instance.jobs[j].choices
        and not _complete(incumbent, j)
        and (guide is None or guide.shares[j])
    ]
    if not short:
        return [], None
    count = min(len(short), rng.randint(*SEEDS))
    seeds = []
    for j in rng.sample(short, count):
        if guide is not None:
            seeds.append((j, guide.factories(j)[:CHEAPER_FACTORIES]))
        else:
            cheapest = sorted(instance.jobs[j].choices, key=lambda c: (c.cost_units, c.factory))
            seeds.append((j, [c.factory for c in cheapest[:CHEAPER_FACTORIES]]))
    return _around(incumbent, group, rng, seeds)


def _around(
    incumbent: Incumbent,
    group: Group,
    rng: random.Random,
    seeds: list[tuple[int, list[int]]],
) -> tuple[list[int], set[int] | None]:
    """The seed jobs, whose placed factories and the wanted ones (those not reserved by
    a concurrent move) the move may use, and the jobs placed only within them."""
    instance, allocation = incumbent.instance, incumbent.allocation
    busy_factories, busy_jobs = incumbent.reserved_factories, incumbent.reserved_jobs
    factories: set[int] = set()
    chosen: list[int] = []
    for j, wanted in seeds:
        placed = _placed_factories(incumbent, j)
        if j in busy_jobs or placed & busy_factories:
            continue
        if len(factories) >= MAX_FACTORIES:
            break
        factories |= placed
        factories.update(f for f in wanted if f not in busy_factories)
        chosen.append(j)
    if not chosen:
        return [], None
    candidates: set[int] = set()
    for f in factories:
        for j in group.jobs_with_choice_at.get(f, ()):
            if j in busy_jobs or j in candidates:
                continue
            placed = _placed_factories(incumbent, j)
            if placed <= factories and (placed or not _complete(incumbent, j)):
                candidates.add(j)
    target = max(len(chosen), round(group.neighbourhood))
    others = sorted(candidates.difference(chosen))
    if len(chosen) + len(others) > target:
        # Keep the jobs that regret their placement most (unplaced ones count as much
        # as the costliest), drawn at random with that weight.
        drawn = [_weight(instance, j, allocation[j]) for j in others]
        top = max((w for w in drawn if w is not None), default=1.0)
        weights = [top if w is None else w for w in drawn]
        keys = sorted(range(len(others)), key=lambda i: rng.random() ** (1 / weights[i]))
        others = [others[i] for i in keys[len(others) - (target - len(chosen)) :]]
    return sorted(set(chosen) | set(others)), factories


def _weight(instance: Instance, j: int, placement: Placement) -> float | None:
    """1 + the job's regret per capacity unit it uses; None for a job not placed whole."""
    info = instance.jobs[j]
    amount = sum(a for _, _, a in placement)
    if not placement or (info.splittable and amount < instance.split_units):
        return None
    units = sum(a * info.choices[c].usage for c, _, a in placement)
    return 1.0 + regret(instance, j, placement) / max(units, 1)


def _placed_factories(incumbent: Incumbent, j: int) -> set[int]:
    choices = incumbent.instance.jobs[j].choices
    return {choices[c].factory for c, _, _ in incumbent.allocation[j]}


def _complete(incumbent: Incumbent, j: int) -> bool:
    instance = incumbent.instance
    return instance.job_fill(j, incumbent.allocation[j]) >= instance.jobs[j].fill_full
