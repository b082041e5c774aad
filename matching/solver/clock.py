"""The search's clock: with one worker it is reproducible, counting CP-SAT deterministic
time and the chain search's work as seconds; otherwise it is the wall clock."""

from __future__ import annotations

import time

from matching.lexicographic import WALL_SAFETY_FACTOR, seconds_of

STEP_OVERHEAD_S = 0.01  # charged to the reproducible clock per model, however small
# Python's pace building CP-SAT models, in (job, choice, period) terms, for the
# reproducible clock: a move over a big neighbourhood takes seconds to build, which
# CP-SAT's deterministic time does not count.
MODEL_TERMS_PER_SECOND = 100_000
# numpy's pace on the chain search's matrices, in matrix entries, for the reproducible
# clock.
CHAIN_UNITS_PER_SECOND = 4e8
MIN_STEP_S = 0.05  # with less time left, no move or chain burst is started


class SearchClock:
    def __init__(self, deterministic: bool, budget_s: float, started: float | None = None):
        self.deterministic = deterministic
        self.budget_s = budget_s  # search time; what is left of the limit is the bound's
        self.started = time.perf_counter() if started is None else started
        self.spent_seconds = 0.0  # reproducible time used
        self.stopped = False

    def elapsed(self) -> float:
        """Search time used: deterministic time when reproducible, else wall time."""
        if self.deterministic:
            return self.spent_seconds
        return self.wall()

    def wall(self) -> float:
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        if self.deterministic and self.overdue():
            return 0.0
        return self.budget_s - self.elapsed()

    def overdue(self) -> bool:
        """Whether a reproducible search ran far too slow and must stop now. The wall
        clock decides nothing else in such a search, so a busy machine gives the same
        plan, only later, unless it is more than WALL_SAFETY_FACTOR times slower than
        the reproducible clock's pace."""
        return self.wall() > WALL_SAFETY_FACTOR * self.budget_s

    def running(self) -> bool:
        """Whether there is time for another step and the search was not stopped."""
        return not self.stopped and self.remaining() > MIN_STEP_S

    def stop(self) -> None:
        self.stopped = True

    def charge_model(self, deterministic_time: float, terms: int = 0) -> None:
        """Count a CP-SAT solve, and the building of its model of `terms` terms."""
        self.spent_seconds += (
            seconds_of(deterministic_time) + STEP_OVERHEAD_S + terms / MODEL_TERMS_PER_SECOND
        )

    def charge_chain_work(self, work: int) -> None:
        if self.deterministic:
            self.spent_seconds += work / CHAIN_UNITS_PER_SECOND
