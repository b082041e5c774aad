"""The best allocation found so far, shared by the search's threads."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from matching.instance import Allocation, Instance, Placement, with_placements
from matching.objective import KeptAmounts, level_values
from matching.solver.groups import Group


class Incumbent:
    """The allocation, the capacity it uses per bucket, and the jobs and factories that
    running moves hold. Threads read and change it only with `lock` held. A move reserves
    its jobs and factories, so that concurrent moves never touch the same ones and each
    can be accepted on its own."""

    def __init__(
        self,
        instance: Instance,
        allocation: Allocation,
        groups: list[Group],
        levels: list[str],
        kept_amounts: KeptAmounts | None,
    ):
        self.instance = instance
        self.allocation = allocation
        self.used = instance.usage(allocation)
        self.levels = levels  # the objective it is the best for
        self.kept_amounts = kept_amounts
        self.lock = threading.Lock()
        self.reserved_jobs: set[int] = set()
        self.reserved_factories: set[int] = set()
        self._group_of = {j: group for group in groups for j in group.jobs}

    def level_values(
        self, jobs: Iterable[int], placements: dict[int, Placement] | None = None
    ) -> tuple[int, ...]:
        """The objective over `jobs`, larger is better, with `placements` if given."""
        allocation = self.allocation
        if placements is not None:
            allocation = with_placements(allocation, placements)
        return level_values(self.instance, allocation, jobs, self.levels, self.kept_amounts)

    def residual(self, free_jobs: list[int]) -> list[int]:
        """Capacity units per bucket left by every job but `free_jobs`."""
        residual = [
            cap - used for cap, used in zip(self.instance.bucket_capacity, self.used, strict=True)
        ]
        for j in free_jobs:
            for b, units in self.instance.bucket_use(j, self.allocation[j]):
                residual[b] += units
        return residual

    def accept(self, placements: dict[int, Placement]) -> None:
        for j, placement in placements.items():
            if placement == self.allocation[j]:
                continue
            group = self._group_of.get(j)
            if group is not None:
                group.version += 1
            for b, units in self.instance.bucket_use(j, self.allocation[j]):
                self.used[b] -= units
            for b, units in self.instance.bucket_use(j, placement):
                self.used[b] += units
            self.allocation[j] = placement

    def replace(self, allocation: Allocation) -> None:
        self.allocation = allocation
        self.used = self.instance.usage(allocation)

    def reserve(self, group: Group, jobs: list[int], factories: set[int] | None) -> None:
        """Hold `jobs` and `factories` (all of the group's when None) for a move."""
        self.reserved_jobs.update(jobs)
        self.reserved_factories.update(group.factories if factories is None else factories)

    def release(self, group: Group, jobs: list[int], factories: set[int] | None) -> None:
        self.reserved_jobs.difference_update(jobs)
        self.reserved_factories.difference_update(
            group.factories if factories is None else factories
        )
