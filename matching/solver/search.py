"""One search over an instance, from a constructive start: CP-SAT on each small group
of jobs whole, then LNS moves and ejection chains until the time is up."""

from __future__ import annotations

import logging
import random
import threading
import time

from matching.bound import LpBound, lp_seconds
from matching.cpsat import build_model
from matching.heuristic import greedy
from matching.instance import Allocation, InfeasibleAllocation, Instance
from matching.lexicographic import Budget, optimize
from matching.objective import FILL, KEEP, KeptAmounts
from matching.problem import Plan
from matching.solver.chain_turns import CHAIN_BURST_S, ChainTurns
from matching.solver.clock import SearchClock
from matching.solver.directed import LpGuide
from matching.solver.groups import Group, groups_of
from matching.solver.incumbent import Incumbent
from matching.solver.lns import LnsMoves
from matching.solver.progress import Progress, ProgressCallback
from matching.solver.proof import cost_bound, is_proven_optimal, reaches_lp_fill

WHOLE_MODEL_SHARE = 0.5  # of a group's time, for CP-SAT on the whole group first
WHOLE_MODEL_MAX_TERMS = 3000
CHAIN_START_SHARE = 0.15  # of the time, for a first chain burst before CP-SAT
BOUND_RESERVE_MAX = 0.25  # of the time, kept for the LP bound at the end

log = logging.getLogger(__name__)


class Search:
    """The search's parts on one incumbent: its clock, groups, progress reports, LNS
    moves and chain turns. `optimize` improves the incumbent, `plan` returns it."""

    def __init__(
        self,
        instance: Instance,
        allocation: Allocation,
        *,
        levels: list[str],
        kept_amounts: KeptAmounts | None,
        time_limit_s: float,
        workers: int,
        seed: int,
        on_progress: ProgressCallback | None,
        lp_start: LpBound | None = None,
        lp_fractions: dict[int, list[tuple[int, int, float]]] | None = None,
        started: float | None = None,
    ):
        self.instance = instance
        self.start = list(allocation)  # the constructive plan, the fallback
        self.levels = levels
        self.kept_amounts = kept_amounts
        self.workers = workers
        self.seed = seed
        self.lp_start = lp_start  # the LP solved for the start, if any
        # Chains move placed work: never under a KEEP level.
        self.groups: list[Group] = groups_of(instance, seed, with_chains=KEEP not in levels)
        self.incumbent = Incumbent(instance, allocation, self.groups, levels, kept_amounts)
        # The LP bound at the end, unless it would take more than BOUND_RESERVE_MAX of
        # the limit: then it is not solved and the plan says no bound is known (a big
        # part of a national run, given seconds).
        self.bound_reserve_s = lp_seconds(sum(g.terms for g in self.groups))
        self.bound_affordable = self.bound_reserve_s <= BOUND_RESERVE_MAX * time_limit_s
        self.clock = SearchClock(
            workers == 1, self._search_budget(time_limit_s, allocation), started
        )
        if self.clock.deterministic and lp_start is not None:
            # The LP solved for the start counts against the limit, at its estimated
            # pace: the wall clock does not decide a reproducible search.
            self.clock.spent_seconds += lp_seconds(instance.size())
        self.progress = Progress(instance, on_progress, self.clock)
        guide = None if lp_fractions is None else LpGuide(instance, lp_fractions)
        if guide is not None:
            for group in self.groups:
                group.lp_fill = guide.fill(group.jobs)
        self.lns = LnsMoves(self.incumbent, self.clock, self.progress, guide)
        self.chain_turns = ChainTurns(self.incumbent, self.clock, self.progress)

    def _search_budget(self, time_limit_s: float, allocation: Allocation) -> float:
        """The time limit less what the LP bound at the end may take, unless the start
        already reaches the LP's fill (then the bound is known) or the bound would take
        more than BOUND_RESERVE_MAX of the limit (then there is none)."""
        if not self.bound_affordable or reaches_lp_fill(self.instance, allocation, self.lp_start):
            return time_limit_s
        return time_limit_s - self.bound_reserve_s

    # --- search -----------------------------------------------------------------------

    def optimize(self) -> None:
        # The first burst only where the start's fill is the LP's: chains move placed
        # work, and until then the time is better spent placing more.
        chained = [
            g for g in self.groups if g.chains is not None and not self.chain_turns.fill_open(g)
        ]
        total_terms = sum(g.terms for g in self.groups)
        for group in chained:
            self.chain_turns.burst(
                group,
                CHAIN_START_SHARE * self.clock.remaining() * group.terms / max(total_terms, 1),
            )
        whole = sorted(
            (g for g in self.groups if g.terms <= WHOLE_MODEL_MAX_TERMS), key=lambda g: g.terms
        )
        for index, group in enumerate(whole):
            pending = sum(g.terms for g in whole[index:]) + sum(
                g.terms for g in self.groups if g.terms > WHOLE_MODEL_MAX_TERMS
            )
            share = self.clock.remaining() * group.terms / max(pending, 1)
            if share <= 0:
                break
            self.solve_whole(group, share * WHOLE_MODEL_SHARE)
        threads = 1 if self.clock.deterministic else self.workers
        if threads == 1:
            self._improve(random.Random(self.seed))
            return
        failures: list[BaseException] = []

        def improve(rng: random.Random) -> None:
            try:
                self._improve(rng)
            except BaseException as exc:  # re-raised in the calling thread below
                failures.append(exc)
                self.clock.stop()

        runners = [
            threading.Thread(target=improve, args=(random.Random(self.seed + k),))
            for k in range(threads)
        ]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
        if failures:
            raise failures[0]

    def solve_whole(self, group: Group, seconds: float) -> None:
        """CP-SAT on all of the group's jobs for `seconds`: the group is proven when
        every level is."""
        incumbent = self.incumbent
        residual = incumbent.residual(group.jobs)
        sub = build_model(self.instance, group.jobs, residual, None, self.kept_amounts)
        outcome = optimize(
            sub,
            self.levels,
            incumbent.allocation,
            Budget(seconds, self.clock.deterministic),
            self.workers,
            self.seed,
            self.progress.phase_reporter(incumbent.allocation, group.jobs),
        )
        self.clock.charge_model(outcome.deterministic_time, group.terms)
        if outcome.placements is not None:
            incumbent.accept(outcome.placements)
        group.proven = outcome.proven
        # Under a KEEP level the cost phase only sees plans that keep as much, so its
        # bound says nothing about all plans placing the same work.
        if outcome.cost_bound is not None and KEEP not in self.levels:
            group.cost_bound = outcome.cost_bound
            group.bound_fill = sub.level(incumbent.allocation, FILL)
        self.progress.report(incumbent.allocation)

    def _improve(self, rng: random.Random) -> None:
        """Chain turns and LNS moves on open groups until time is up. Concurrent runners
        work on disjoint factories and jobs (see `Incumbent`)."""
        incumbent = self.incumbent
        while self.clock.running():
            with incumbent.lock:
                open_groups = [g for g in self.groups if not g.proven]
                if not open_groups:
                    return
                group = rng.choices(open_groups, weights=[g.terms for g in open_groups])[0]
                chain_turn = self.chain_turns.due(group)
                move = None if chain_turn else self.lns.prepare(group, rng)
            if chain_turn:
                self.chain_turns.burst(group, CHAIN_BURST_S)
            elif move is None:
                time.sleep(0.001)  # a concurrent move holds what this one needs
            else:
                self.lns.run(move, rng)

    # --- result -----------------------------------------------------------------------

    def plan(self) -> Plan:
        """The incumbent as a plan; should it break a constraint (a bug), the
        constructive start's plan instead, which is never infeasible."""
        instance, incumbent = self.instance, self.incumbent
        proven = is_proven_optimal(instance, self.groups)
        try:
            instance.check(incumbent.allocation)
        except InfeasibleAllocation as error:
            log.error(
                "matching: the search's allocation is infeasible (%s); "
                "returning the constructive start's plan",
                error,
            )
            incumbent.replace(self.fallback())
            proven = False
            for group in self.groups:  # proofs of a search gone wrong prove nothing
                group.cost_bound = None
        bound = None
        if self.bound_affordable or reaches_lp_fill(instance, incumbent.allocation, self.lp_start):
            bound = cost_bound(instance, incumbent.allocation, self.groups, self.lp_start)
        return instance.plan(
            incumbent.allocation,
            status="OPTIMAL" if proven else "FEASIBLE",
            bound=bound,
            solve_s=self.clock.wall(),
        )

    def fallback(self) -> Allocation:
        """The first feasible of: the constructive start, greedy from scratch, nothing."""
        for allocation in (self.start, greedy(self.instance)):
            try:
                self.instance.check(allocation)
            except InfeasibleAllocation:
                continue
            return list(allocation)
        return [() for _ in self.instance.jobs]
