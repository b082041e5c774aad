"""Large-neighbourhood search moves: free the jobs of a neighbourhood, fix everything
else, and re-optimise them with CP-SAT; the result is kept unless it is worse."""

from __future__ import annotations

import random
from dataclasses import dataclass

from matching.cpsat import build_model
from matching.instance import Allocation
from matching.lexicographic import Budget, optimize
from matching.solver.clock import SearchClock
from matching.solver.directed import (
    LpGuide,
    costly_neighbourhood,
    relink_neighbourhood,
    short_neighbourhood,
)
from matching.solver.groups import Group
from matching.solver.incumbent import Incumbent
from matching.solver.neighbourhoods import neighbourhood
from matching.solver.progress import Progress

MOVE_SECONDS = 0.2
# Free jobs per move: the target grows while moves are proven optimal, shrinks otherwise.
NEIGHBOURHOOD_MIN, NEIGHBOURHOOD_MAX = 8, 400
# Share of moves solved as one weighted objective rather than one phase per level:
# phases push fill harder, one weighted solve finds cheaper plans faster.
COMBINED_MOVE_SHARE = 0.5
# Share of moves around jobs not placed whole, around the costliest placements, and
# toward the LP solution when the search has one (`matching.solver.directed`); the
# others use `neighbourhood`.
SHORT_SHARE = 0.2
COSTLY_SHARE = 0.2
RELINK_SHARE = 0.15
RANDOM, SHORT, COSTLY, RELINK = "random", "short", "costly", "relink"
KINDS = (RANDOM, SHORT, COSTLY, RELINK)


@dataclass(slots=True)
class Move:
    """A move's free jobs and factories (None: all of the group's), held until it ends,
    and what it starts from."""

    group: Group
    kind: str  # which neighbourhood
    jobs: list[int]
    factories: set[int] | None
    residual: list[int]  # capacity units left by every other job
    before: tuple[int, ...]  # the objective over `jobs` in the incumbent
    start: Allocation


class LnsMoves:
    def __init__(
        self,
        incumbent: Incumbent,
        clock: SearchClock,
        progress: Progress,
        guide: LpGuide | None = None,
    ):
        self.incumbent = incumbent
        self.clock = clock
        self.progress = progress
        self.guide = guide
        # Per neighbourhood kind: moves made, and moves that made the plan better.
        self.moves = dict.fromkeys(KINDS, 0)
        self.improvements = dict.fromkeys(KINDS, 0)

    def prepare(self, group: Group, rng: random.Random) -> Move | None:
        """A move on `group`, its jobs and factories reserved; None when a concurrent
        move holds what it needs. Called with the incumbent's lock held."""
        incumbent = self.incumbent
        kind = self._kind(rng)
        jobs: list[int] = []
        factories: set[int] | None = None
        if kind == SHORT:
            jobs, factories = short_neighbourhood(incumbent, group, self.guide, rng)
        elif kind == COSTLY:
            jobs, factories = costly_neighbourhood(incumbent, group, rng)
        elif kind == RELINK and self.guide is not None:
            jobs, factories = relink_neighbourhood(incumbent, group, self.guide, rng)
        if not jobs:
            kind = RANDOM
            jobs, factories = neighbourhood(incumbent, group, rng)
        if not jobs:
            return None
        incumbent.reserve(group, jobs, factories)
        self.moves[kind] += 1
        return Move(
            group,
            kind,
            jobs,
            factories,
            incumbent.residual(jobs),
            incumbent.level_values(jobs),
            list(incumbent.allocation),
        )

    def run(self, move: Move, rng: random.Random) -> None:
        """Solve the move, accept it unless worse, adapt the group's neighbourhood size
        and release what the move held."""
        incumbent, clock, group = self.incumbent, self.clock, move.group
        move_started = clock.elapsed()
        sub = build_model(
            incumbent.instance, move.jobs, move.residual, move.factories, incumbent.kept_amounts
        )
        seconds = min(MOVE_SECONDS, clock.remaining())
        combined = rng.random() < COMBINED_MOVE_SHARE
        outcome = optimize(
            sub,
            incumbent.levels,
            move.start,
            Budget(seconds, clock.deterministic),
            1,
            rng.randrange(1 << 30),
            presolve=False,
            combined=combined,
        )
        with incumbent.lock:
            clock.charge_model(outcome.deterministic_time, incumbent.instance.size(move.jobs))
            group.lns_seconds += clock.elapsed() - move_started
            if outcome.placements is not None:
                after = incumbent.level_values(move.jobs, outcome.placements)
                if after >= move.before:
                    incumbent.accept(outcome.placements)
                if after > move.before:
                    self.improvements[move.kind] += 1
            if outcome.proven:
                group.neighbourhood = min(group.neighbourhood * 1.1, NEIGHBOURHOOD_MAX)
                if move.factories is None:
                    group.proven = True
            else:
                group.neighbourhood = max(group.neighbourhood * 0.85, NEIGHBOURHOOD_MIN)
            incumbent.release(group, move.jobs, move.factories)
            self.progress.report(incumbent.allocation)

    def _kind(self, rng: random.Random) -> str:
        draw = rng.random()
        if draw < SHORT_SHARE:
            return SHORT
        if draw < SHORT_SHARE + COSTLY_SHARE:
            return COSTLY
        if self.guide is not None and draw < SHORT_SHARE + COSTLY_SHARE + RELINK_SHARE:
            return RELINK
        return RANDOM
