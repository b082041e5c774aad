"""`solve`: a constructive start (greedy, or the LP solution rounded when the time limit
affords the LP), CP-SAT per independent group of jobs, then large-neighbourhood search
within the time limit; the plan's bound comes from CP-SAT proofs and the LP.

Jobs that share no capacity (different resources, disjoint factories) never interact,
so each group is solved on its own: small groups are solved outright, and the time they
leave goes to the big ones. A group CP-SAT cannot close in its share is improved by LNS:
free the jobs of a few related factories (plus unplaced jobs that could go there), fix
everything else, and re-optimise that neighbourhood lexicographically. Moves never make
the incumbent worse, so the search can stop at any moment with a feasible plan.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matching import cpsat
from matching.bound import LpBound, lp_min_cost, lp_solution
from matching.chains import ChainSearch
from matching.cpsat import COST, FILL, KEEP, Budget
from matching.heuristic import greedy, lp_rounding
from matching.instance import Allocation, InfeasibleAllocation, Instance, compile_problem
from matching.problem import Plan, Problem

DEFAULT_TIME_LIMIT_S = 10.0
DEFAULT_WORKERS = 2
WHOLE_MODEL_SHARE = 0.5  # of a group's time, for CP-SAT on the whole group first
WHOLE_MODEL_MAX_TERMS = 3000
NEIGHBOURHOOD_START = 40  # free jobs per LNS move, adapted as moves succeed or time out
NEIGHBOURHOOD_MIN, NEIGHBOURHOOD_MAX = 8, 400
# Factories whose jobs an LNS move may rearrange: few (all their jobs) or many (a sample).
FEW_FACTORIES, MANY_FACTORIES = (2, 5), (30, 60)
FEW_FACTORIES_SHARE = 0.5
FEW_SHARE = (0.15, 0.35)  # of the group's factories, widening FEW_FACTORIES for big groups
MOVE_SECONDS = 0.2
STEP_OVERHEAD_S = 0.01  # model building, charged to the reproducible clock per model
# Share of LNS moves solved as one weighted objective rather than one phase per level:
# phases push fill harder, one weighted solve finds cheaper plans faster.
COMBINED_MOVE_SHARE = 0.5
# GLOP's pace on these models (building included), to decide what the time limit
# affords: the LP start when it takes at most LP_START_SHARE of the limit (it is worth
# far more than the same time spent searching from the greedy start), and the LP bound
# at the end, for which up to BOUND_RESERVE_MAX of the limit is kept.
LP_TERMS_PER_SECOND = 15_000
LP_START_SHARE = 0.5
BOUND_RESERVE_MAX = 0.25
# Ejection chains (matching/chains.py) for groups whose jobs sit whole in one bucket:
# a first burst before CP-SAT sees the whole group, then bursts taking turns with LNS
# moves, getting CHAIN_SHARE of the search threads' time.
CHAIN_START_SHARE = 0.15
CHAIN_BURST_S = 0.5
CHAIN_SHARE = 0.5
# numpy's pace on the chain search's matrices, for the reproducible clock, and the
# slice of work after which a chain search looks at the clock again.
CHAIN_UNITS_PER_SECOND = 4e8
CHAIN_SLICE_S = 0.05

ProgressCallback = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)


def solve(
    problem: Problem,
    time_limit_s: float | None = None,
    workers: int | None = None,
    seed: int = 0,
    hint: Plan | None = None,
    on_progress: ProgressCallback | None = None,
) -> Plan:
    """Allocate the problem's jobs: most priority-weighted work first, then least cost.

    `hint` is a previous plan whose still-feasible part seeds the search. `on_progress`
    gets a dict (fill: weighted share placed, cost, bound: null while searching,
    elapsed_s) whenever a better plan is found; during a long CP-SAT phase one of fill
    and cost may be null. It is called from the solver's threads, one call at a time. With
    `workers=1` the time limit is counted in CP-SAT deterministic time, so the same
    problem and seed always give the same plan.

    Status: OPTIMAL when fill and then cost are proven optimal for the problem as given
    (never with splittable jobs, which are placed in steps of 0.1% of the job, nor when
    hours, costs or priorities have more than 6 decimals and had to be rounded),
    FEASIBLE otherwise. A plan that leaves jobs unassigned is still a valid plan, so
    there is always one: INFEASIBLE and UNKNOWN are never returned, and should the
    search end on an infeasible allocation (a bug), the constructive start's plan is
    returned instead.
    """
    return Search.run(problem, time_limit_s, workers, seed, hint, on_progress)


@dataclass(slots=True)
class _Group:
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


class Search:
    def __init__(
        self,
        instance: Instance,
        allocation: Allocation,
        *,
        levels: list[str],
        kept_amounts: dict[tuple[int, int, int], int] | None,
        time_limit_s: float,
        workers: int,
        seed: int,
        on_progress: ProgressCallback | None,
    ):
        self.instance = instance
        self.allocation = allocation
        self.start = list(allocation)  # the constructive plan, the fallback
        self.levels = levels
        self.kept_amounts = kept_amounts
        self.workers = workers
        self.seed = seed
        self.lock = threading.Lock()
        self.stopped = False
        self.reserved_factories: set[int] = set()
        self.reserved_jobs: set[int] = set()
        self.deterministic = workers == 1
        self.started = time.perf_counter()
        self.time_limit_s = time_limit_s
        self.spent_seconds = 0.0
        self.on_progress = on_progress
        self.used = instance.usage(allocation)
        self.best_reported: tuple[int, int] | None = None
        self.lp_start: LpBound | None = None  # the LP solved for the start, if any
        self.groups = [self._group(jobs) for jobs in instance.components()]
        self.group_of = {j: group for group in self.groups for j in group.jobs}
        if KEEP not in levels:  # chains move placed work: never under a KEEP level
            for index, group in enumerate(self.groups):
                chains = ChainSearch(instance, group.jobs, seed + index)
                if chains.usable:
                    group.chains = chains
        lp_seconds = sum(g.terms for g in self.groups) / LP_TERMS_PER_SECOND
        self.search_budget = time_limit_s - min(lp_seconds, BOUND_RESERVE_MAX * time_limit_s)

    @classmethod
    def run(
        cls,
        problem: Problem,
        time_limit_s: float | None,
        workers: int | None,
        seed: int,
        hint: Plan | None,
        on_progress: ProgressCallback | None,
        keep: Plan | None = None,
    ) -> Plan:
        started = time.perf_counter()
        time_limit_s = _first(time_limit_s, problem.params.time_limit_s, DEFAULT_TIME_LIMIT_S)
        workers = int(_first(workers, problem.params.workers, DEFAULT_WORKERS))
        instance = compile_problem(problem)
        start = instance.allocation_from_plan(hint) if hint is not None else None
        kept_amounts = None
        levels = [FILL, COST]
        if keep is not None:
            kept_amounts = _amounts(instance.allocation_from_plan(keep))
            levels = [FILL, KEEP, COST]
        allocation = greedy(instance, start)
        terms = sum(len(c.buckets) for info in instance.jobs for c in info.choices)
        lp_start = None
        if keep is None and terms / LP_TERMS_PER_SECOND <= LP_START_SHARE * time_limit_s:
            lp_start, fractions = lp_solution(instance)
            rounded = lp_rounding(instance, fractions)
            allocation = max(allocation, rounded, key=lambda a: _lexicographic(instance, a))
        search = cls(
            instance,
            allocation,
            levels=levels,
            kept_amounts=kept_amounts,
            time_limit_s=time_limit_s,
            workers=workers,
            seed=seed,
            on_progress=on_progress,
        )
        search.lp_start = lp_start
        if search.reaches_lp_fill():
            search.search_budget = time_limit_s  # the bound is known: nothing to reserve
        search.started = started
        search.report()
        search.optimize()
        return search.plan()

    # --- clock ------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Search time used: deterministic time when reproducible, else wall time."""
        if self.deterministic:
            return self.spent_seconds
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        if self.deterministic and self.overdue():
            return 0.0
        return self.search_budget - self.elapsed()

    def overdue(self) -> bool:
        """Whether a reproducible search ran far too slow and must stop now. The wall
        clock decides nothing else in such a search, so a busy machine gives the same
        plan, only later, unless it is more than WALL_SAFETY_FACTOR times slower than
        the reproducible clock's pace."""
        wall = time.perf_counter() - self.started
        return wall > cpsat.WALL_SAFETY_FACTOR * self.search_budget

    # --- search -----------------------------------------------------------------------

    def optimize(self) -> None:
        chained = [g for g in self.groups if g.chains is not None]
        total_terms = sum(g.terms for g in self.groups)
        for group in chained:
            self._chain_burst(
                group, CHAIN_START_SHARE * self.remaining() * group.terms / max(total_terms, 1)
            )
        whole = sorted(
            (g for g in self.groups if g.terms <= WHOLE_MODEL_MAX_TERMS), key=lambda g: g.terms
        )
        for index, group in enumerate(whole):
            pending = sum(g.terms for g in whole[index:]) + sum(
                g.terms for g in self.groups if g.terms > WHOLE_MODEL_MAX_TERMS
            )
            share = self.remaining() * group.terms / max(pending, 1)
            if share <= 0:
                break
            self.solve_whole(group, share * WHOLE_MODEL_SHARE)
        threads = 1 if self.deterministic else self.workers
        if threads == 1:
            self._improve(random.Random(self.seed))
            return
        failures: list[BaseException] = []

        def improve(rng: random.Random) -> None:
            try:
                self._improve(rng)
            except BaseException as exc:  # re-raised in the calling thread below
                failures.append(exc)
                self.stopped = True

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

    def solve_whole(self, group: _Group, seconds: float) -> None:
        residual = self._residual(group.jobs)
        sub = cpsat.build(self.instance, group.jobs, residual, None, self.kept_amounts)
        outcome = cpsat.optimize(
            sub,
            self.levels,
            self.allocation,
            Budget(seconds, self.deterministic),
            self.workers,
            self.seed,
            self._phase_reporter(group),
        )
        self.spent_seconds += cpsat.seconds_of(outcome.deterministic_time) + STEP_OVERHEAD_S
        if outcome.placements is not None:
            self._accept(outcome.placements)
        group.proven = outcome.proven
        # Under a KEEP level the cost phase only sees plans that keep as much, so its
        # bound says nothing about all plans placing the same work.
        if outcome.cost_bound is not None and KEEP not in self.levels:
            group.cost_bound = outcome.cost_bound
            group.bound_fill = sub.level(self.allocation, FILL)
        self.report()

    def _improve(self, rng: random.Random) -> None:
        """LNS moves until time is up. Concurrent runners work on disjoint factories and
        jobs: a move's free jobs only ever sit on its own factories, so moves running at
        the same time cannot interfere and each can be accepted on its own."""
        while self.remaining() > 0.05 and not self.stopped:
            with self.lock:
                open_groups = [g for g in self.groups if not g.proven]
                if not open_groups:
                    return
                group = rng.choices(open_groups, weights=[g.terms for g in open_groups])[0]
                chain_turn = (
                    group.chains is not None
                    and not group.chains_busy
                    and group.chains_idle_at != group.version
                    and group.chain_seconds <= CHAIN_SHARE / (1 - CHAIN_SHARE) * group.lns_seconds
                )
                if chain_turn:
                    jobs = []
                else:
                    jobs, factories = self._neighbourhood(group, rng)
                if jobs:
                    self._reserve(group, jobs, factories)
                    residual = self._residual(jobs)
                    before = cpsat.level_values(
                        self.instance, self.allocation, jobs, self.levels, self.kept_amounts
                    )
                    incumbent = list(self.allocation)
            if chain_turn:
                self._chain_burst(group, CHAIN_BURST_S)
                continue
            if not jobs:
                time.sleep(0.001)  # a concurrent move holds what this one needs
                continue
            move_started = self.elapsed()
            sub = cpsat.build(self.instance, jobs, residual, factories, self.kept_amounts)
            seconds = min(MOVE_SECONDS, self.remaining())
            combined = rng.random() < COMBINED_MOVE_SHARE
            outcome = cpsat.optimize(
                sub,
                self.levels,
                incumbent,
                Budget(seconds, self.deterministic),
                1,
                rng.randrange(1 << 30),
                presolve=False,
                combined=combined,
            )
            with self.lock:
                self.spent_seconds += cpsat.seconds_of(outcome.deterministic_time) + STEP_OVERHEAD_S
                group.lns_seconds += self.elapsed() - move_started
                if outcome.placements is not None:
                    candidate = list(self.allocation)
                    for j, placement in outcome.placements.items():
                        candidate[j] = placement
                    after = cpsat.level_values(
                        self.instance, candidate, jobs, self.levels, self.kept_amounts
                    )
                    if after >= before:
                        self._accept(outcome.placements)
                if outcome.proven:
                    group.neighbourhood = min(group.neighbourhood * 1.1, NEIGHBOURHOOD_MAX)
                    if factories is None:
                        group.proven = True
                else:
                    group.neighbourhood = max(group.neighbourhood * 0.85, NEIGHBOURHOOD_MIN)
                self.reserved_jobs.difference_update(jobs)
                self.reserved_factories.difference_update(
                    group.factories if factories is None else factories
                )
                self.report()

    def _chain_burst(self, group: _Group, seconds: float) -> None:
        """Ejection chains on the group for about `seconds` of search time, starting from
        the incumbent. Better allocations are merged as they are found; when another
        thread changes the group, the search continues from the new incumbent."""
        chains = group.chains
        if chains is None or seconds <= 0:
            return
        with self.lock:
            if group.chains_busy:
                return
            group.chains_busy = True
            version = group.version
            loaded = chains.load(self.allocation, self.used)
        started = self.elapsed()
        try:
            while (
                loaded
                and not self.stopped
                and self.remaining() > 0.05
                and self.elapsed() - started < seconds
            ):
                work = chains.step(CHAIN_SLICE_S * CHAIN_UNITS_PER_SECOND)
                with self.lock:
                    if self.deterministic:
                        self.spent_seconds += work / CHAIN_UNITS_PER_SECOND
                    if chains.improved and self._merge_chains(chains):
                        chains.rebase()
                        version = group.version
                        self.report()
                    if group.version != version:
                        version = group.version
                        loaded = chains.load(self.allocation, self.used)
        finally:
            with self.lock:
                if not loaded:
                    group.chains_idle_at = version
                group.chains_busy = False
                group.chain_seconds += self.elapsed() - started

    def _merge_chains(self, chains: ChainSearch) -> bool:
        """Accept the chains' best allocation if it is still valid against the incumbent:
        its jobs unchanged and not held by a concurrent move, capacity respected, and
        lexicographically better. Called with the lock held."""
        placements = chains.placements()
        if not placements or any(j in self.reserved_jobs for j in placements):
            return False
        instance = self.instance
        change: dict[int, int] = {}
        for j, placement in placements.items():
            if self.allocation[j] != chains.base_placement(j):
                return False
            choices = instance.jobs[j].choices
            for c, p, amount in self.allocation[j]:
                b = choices[c].buckets[p]
                change[b] = change.get(b, 0) - amount * choices[c].usage
            for c, p, amount in placement:
                b = choices[c].buckets[p]
                change[b] = change.get(b, 0) + amount * choices[c].usage
        for b, delta in change.items():
            if delta and instance.bucket_keys[b][0] in self.reserved_factories:
                return False
            if self.used[b] + delta > instance.bucket_capacity[b]:
                return False
        jobs = list(placements)
        before = cpsat.level_values(instance, self.allocation, jobs, self.levels, self.kept_amounts)
        candidate = list(self.allocation)
        for j, placement in placements.items():
            candidate[j] = placement
        after = cpsat.level_values(instance, candidate, jobs, self.levels, self.kept_amounts)
        if after <= before:
            return False
        self._accept(placements)
        return True

    def _reserve(self, group: _Group, jobs: list[int], factories: set[int] | None) -> None:
        self.reserved_jobs.update(jobs)
        self.reserved_factories.update(group.factories if factories is None else factories)

    def _neighbourhood(
        self, group: _Group, rng: random.Random
    ) -> tuple[list[int], set[int] | None]:
        """Jobs to free and the factories they may use: the factories of a seed job's
        options, extended until about `group.neighbourhood` jobs are free. Factories
        and jobs reserved by a concurrent move are left out."""
        instance, allocation = self.instance, self.allocation
        target = max(1, round(group.neighbourhood))
        busy_factories, busy_jobs = self.reserved_factories, self.reserved_jobs
        if target >= len(group.jobs):
            if busy_factories.intersection(group.factories):
                return [], None
            return list(group.jobs), None
        seed_job = self._seed_job(group, rng)
        if seed_job in busy_jobs:
            return [], None
        # Alternate: a few factories with all their jobs (exact reshuffles among them),
        # or many factories with a sample of their jobs (long-range moves).
        few = rng.random() < FEW_FACTORIES_SHARE
        if few:
            size = len(group.factories)
            low, high = (max(FEW_FACTORIES[0], round(share * size)) for share in FEW_SHARE)
            factory_target = rng.randint(low, max(low, high, FEW_FACTORIES[1]))
        else:
            factory_target = rng.randint(*MANY_FACTORIES)
        factories: set[int] = set()
        frontier = self._frontier(seed_job, factories, rng)
        candidates: set[int] = set()
        while frontier and len(factories) < factory_target:
            f = frontier.pop()
            if f in factories or f in busy_factories:
                continue
            factories.add(f)
            for j in group.jobs_with_choice_at.get(f, ()):
                if j in busy_jobs:
                    continue
                placed = {instance.jobs[j].choices[c].factory for c, _, _ in allocation[j]}
                if placed <= factories and (placed or not self._complete(j)):
                    candidates.add(j)
            if not frontier and candidates:
                frontier = self._frontier(rng.choice(sorted(candidates)), factories, rng)
        jobs = sorted(candidates)
        if len(jobs) > (2 * target if few else target):
            # Prefer jobs that could do better: unplaced, or not on their cheapest option.
            weights = [3.0 if self._improvable(j) else 1.0 for j in jobs]
            keys = sorted(range(len(jobs)), key=lambda i: rng.random() ** (1 / weights[i]))
            jobs = sorted(jobs[i] for i in keys[-(2 * target if few else target) :])
        return jobs, factories

    def _frontier(self, j: int, taken: set[int], rng: random.Random) -> list[int]:
        """Factories of job j's options to visit next (popped from the end): cheapest
        first half of the time, which steers moves toward cheaper placements."""
        choices = [c for c in self.instance.jobs[j].choices if c.factory not in taken]
        if rng.random() < 0.5:
            choices.sort(key=lambda c: -c.cost)
        else:
            rng.shuffle(choices)
        return [c.factory for c in choices]

    def _seed_job(self, group: _Group, rng: random.Random) -> int:
        if rng.random() < 0.5:
            improvable = [j for j in group.jobs if self._improvable(j)]
            if improvable:
                return rng.choice(improvable)
        return rng.choice(group.jobs)

    def _complete(self, j: int) -> bool:
        return self.instance.job_fill(j, self.allocation[j]) >= self.instance.jobs[j].fill_full

    def _improvable(self, j: int) -> bool:
        placement = self.allocation[j]
        if not self._complete(j):
            return True
        info = self.instance.jobs[j]
        cheapest = min(c.cost_units for c in info.choices)
        return any(info.choices[c].cost_units > cheapest for c, _, _ in placement)

    # --- bookkeeping ------------------------------------------------------------------

    def _group(self, jobs: list[int]) -> _Group:
        factories: set[int] = set()
        terms = 0
        with_choice: dict[int, list[int]] = {}
        for j in jobs:
            for choice in self.instance.jobs[j].choices:
                factories.add(choice.factory)
                terms += len(choice.buckets)
                with_choice.setdefault(choice.factory, []).append(j)
        return _Group(jobs, sorted(factories), terms, jobs_with_choice_at=with_choice)

    def _residual(self, free_jobs: list[int]) -> list[int]:
        residual = [
            cap - used for cap, used in zip(self.instance.bucket_capacity, self.used, strict=True)
        ]
        for j in free_jobs:
            choices = self.instance.jobs[j].choices
            for c, p, amount in self.allocation[j]:
                residual[choices[c].buckets[p]] += amount * choices[c].usage
        return residual

    def _accept(self, placements: dict[int, tuple]) -> None:
        for j, placement in placements.items():
            if placement == self.allocation[j]:
                continue
            group = self.group_of.get(j)
            if group is not None:
                group.version += 1
            choices = self.instance.jobs[j].choices
            for c, p, amount in self.allocation[j]:
                self.used[choices[c].buckets[p]] -= amount * choices[c].usage
            for c, p, amount in placement:
                self.used[choices[c].buckets[p]] += amount * choices[c].usage
            self.allocation[j] = placement

    def _phase_reporter(self, group: _Group) -> Callable[[str, int], None] | None:
        if self.on_progress is None:
            return None
        members = set(group.jobs)
        others = [j for j in range(len(self.instance.jobs)) if j not in members]
        fill_outside, cost_outside = self.instance.score(self.allocation, others)

        def report(level: str, value: int) -> None:
            if level == FILL:
                self._emit(fill_outside + value, None)
            elif level == COST:
                self._emit(None, cost_outside + value)

        return report

    def report(self) -> None:
        if self.on_progress is None:
            return
        fill, cost = self.instance.score(self.allocation)
        if self.best_reported is not None and (fill, -cost) <= self.best_reported:
            return
        self.best_reported = (fill, -cost)
        self._emit(fill, cost)

    def _emit(self, fill: int | None, cost: int | None) -> None:
        assert self.on_progress is not None
        instance = self.instance
        self.on_progress(
            {
                "fill": None if fill is None else instance.fill_fraction(fill),
                "cost": None if cost is None else instance.cost_value(cost),
                "bound": None,
                "elapsed_s": round(time.perf_counter() - self.started, 3),
            }
        )

    # --- result -----------------------------------------------------------------------

    def plan(self) -> Plan:
        """The incumbent as a plan; should it break a constraint (a bug), the
        constructive start's plan instead, which is never infeasible."""
        proven = self.proven()
        try:
            self.instance.check(self.allocation)
        except InfeasibleAllocation as error:
            log.error(
                "matching: the search's allocation is infeasible (%s); "
                "returning the constructive start's plan",
                error,
            )
            self.allocation = self.fallback()
            self.used = self.instance.usage(self.allocation)
            proven = False
            for group in self.groups:  # proofs of a search gone wrong prove nothing
                group.cost_bound = None
        bound = self.cost_bound()
        return self.instance.plan(
            self.allocation,
            status="OPTIMAL" if proven else "FEASIBLE",
            bound=bound,
            solve_s=time.perf_counter() - self.started,
        )

    def proven(self) -> bool:
        """Whether the plan is proven optimal for the problem itself: every group closed
        by CP-SAT on an integer instance that is the problem exactly (no splittable job
        moving in 0.1% steps, no rounded hours, costs or priorities). Without any group
        nothing can be placed, provided rounding dropped no choice."""
        instance = self.instance
        return (
            all(g.proven for g in self.groups)
            and instance.complete
            and (not self.groups or (instance.split_units == 1 and instance.exact))
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

    def reaches_lp_fill(self) -> bool:
        """Whether the plan places as much weighted work as the LP solved for the start."""
        if self.lp_start is None:
            return False
        fill = self.instance.weighted_fill(self.allocation)
        return fill >= self.lp_start.fill * (1 - 1e-9) - 1e-9

    def cost_bound(self) -> float | None:
        """Sum over groups of the best proven lower bound on the group's cost at its fill.

        CP-SAT's bound only counts when the integer model is exact (no splittable job
        rounded to 0.1% steps, no hours, costs or priorities rounded); the LP bound
        counts when the instance kept every choice the problem allows (otherwise there is
        no bound: None).
        """
        instance = self.instance
        if not instance.complete:
            return None
        exact = instance.split_units == 1 and instance.exact
        start = self.lp_start
        if start is not None and self.reaches_lp_fill():
            # The plan reaches the LP's maximum fill: the LP solved for the start already
            # bounds its cost, no need to solve one per group again.
            total = start.cost
            if exact and all(g.cost_bound is not None for g in self.groups):
                total = max(total, sum(instance.cost_value(g.cost_bound) for g in self.groups))
            return self._rounded(min(total, instance.real_cost(self.allocation)), exact)
        total = 0.0
        for group in self.groups:
            fill, _ = instance.score(self.allocation, group.jobs)
            best = None
            if exact and group.cost_bound is not None and fill >= group.bound_fill:
                best = instance.cost_value(group.cost_bound)
            try:
                lp = lp_min_cost(
                    instance, instance.weighted_fill(self.allocation, group.jobs), group.jobs
                )
                best = lp if best is None else max(best, lp)
            except RuntimeError:
                pass
            if best is None:
                return None
            total += min(best, instance.real_cost(self.allocation, group.jobs))
        return self._rounded(total, exact)

    def _rounded(self, bound: float, exact: bool) -> float:
        if not exact:
            return bound
        # Every plan then costs a whole number of cost units: round the bound up.
        scaled = bound * self.instance.cost_scale
        return math.ceil(scaled - 1e-6 - 1e-12 * abs(scaled)) / self.instance.cost_scale


def _lexicographic(instance: Instance, allocation: Allocation) -> tuple[int, int]:
    fill, cost = instance.score(allocation)
    return fill, -cost


def _amounts(allocation: Allocation) -> dict[tuple[int, int, int], int]:
    return {
        (j, c, p): amount for j, placement in enumerate(allocation) for c, p, amount in placement
    }


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
