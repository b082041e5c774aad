"""Groups of jobs that share no capacity, each searched on its own, and what the search
keeps per group."""

from __future__ import annotations

from dataclasses import dataclass, field

from matching.chains import ChainSearch
from matching.instance import Instance

NEIGHBOURHOOD_START = 40  # free jobs per LNS move, adapted as moves succeed or time out


@dataclass(slots=True)
class Group:
    jobs: list[int]
    factories: list[int]
    terms: int  # (job, choice, period) triples: the size of the group's model
    proven: bool = False
    cost_bound: int | None = None  # proven for plans with at least `bound_fill`
    bound_fill: int = 0
    neighbourhood: float = NEIGHBOURHOOD_START
    jobs_with_choice_at: dict[int, list[int]] = field(default_factory=dict)
    chains: ChainSearch | None = None
    chains_busy: bool = False
    chains_idle_at: int = -1  # version at which the chains found too few jobs to move
    chain_seconds: float = 0.0  # search time spent on chains and on LNS moves
    lns_seconds: float = 0.0
    version: int = 0  # bumped whenever a job of the group changes placement
    lp_fill: float | None = None  # fill units the LP solution places, when solved
    fill_open: bool = True  # whether the group places less than `lp_fill`, as of
    fill_open_at: int = -1  # this version


def groups_of(instance: Instance, seed: int, with_chains: bool) -> list[Group]:
    """The instance's independent groups of jobs (`Instance.components`), with an
    ejection chain search for those where one can work when `with_chains`."""
    groups = [_group(instance, jobs) for jobs in instance.components()]
    if with_chains:
        for index, group in enumerate(groups):
            chains = ChainSearch(instance, group.jobs, seed + index)
            if chains.usable:
                group.chains = chains
    return groups


def _group(instance: Instance, jobs: list[int]) -> Group:
    factories: set[int] = set()
    with_choice: dict[int, list[int]] = {}
    for j in jobs:
        for choice in instance.jobs[j].choices:
            factories.add(choice.factory)
            with_choice.setdefault(choice.factory, []).append(j)
    return Group(jobs, sorted(factories), instance.size(jobs), jobs_with_choice_at=with_choice)
