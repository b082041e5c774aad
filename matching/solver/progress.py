"""Progress reports of a search: the caller's `on_progress` gets each better plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matching.instance import Allocation, Instance
from matching.objective import COST, FILL
from matching.solver.clock import SearchClock

ProgressCallback = Callable[[dict[str, Any]], None]


class Progress:
    def __init__(
        self, instance: Instance, on_progress: ProgressCallback | None, clock: SearchClock
    ):
        self.instance = instance
        self.on_progress = on_progress
        self.clock = clock
        self.best_reported: tuple[int, int] | None = None  # (fill, -cost)

    def report(self, allocation: Allocation) -> None:
        """Report `allocation` if it is better than every one reported before."""
        if self.on_progress is None:
            return
        fill, cost = self.instance.score(allocation)
        if self.best_reported is not None and (fill, -cost) <= self.best_reported:
            return
        self.best_reported = (fill, -cost)
        self._emit(fill, cost)

    def phase_reporter(
        self, allocation: Allocation, jobs: list[int]
    ) -> Callable[[str, int], None] | None:
        """A reporter for the CP-SAT phases of a model over `jobs`: each phase's new
        best value, with `allocation`'s other jobs as they are now."""
        if self.on_progress is None:
            return None
        members = set(jobs)
        others = [j for j in range(len(self.instance.jobs)) if j not in members]
        fill_outside, cost_outside = self.instance.score(allocation, others)

        def report(level: str, value: int) -> None:
            if level == FILL:
                self._emit(fill_outside + value, None)
            elif level == COST:
                self._emit(None, cost_outside + value)

        return report

    def _emit(self, fill: int | None, cost: int | None) -> None:
        assert self.on_progress is not None
        instance = self.instance
        self.on_progress(
            {
                "fill": None if fill is None else instance.fill_fraction(fill),
                "cost": None if cost is None else instance.cost_value(cost),
                "bound": None,
                "elapsed_s": round(self.clock.wall(), 3),
            }
        )
