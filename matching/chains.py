"""Ejection chains: a local search for whole jobs that each sit in one capacity bucket.

A non-splittable job placed whole in one bucket (always so with a single period) may move
to any other bucket of its options that can hold it whole. When buckets are nearly full,
a cheaper plan is rarely one such move away; it takes a chain: job 1 leaves its bucket
for bucket B, pushing job 2 out of B into bucket C, and so on, until the last job lands
in a bucket with room, possibly the one job 1 left (a cyclic exchange). Exchanges among
two or three buckets, which CP-SAT moves settle exactly, miss these chains; a chain can
run through many buckets.

The best chains are found by a few Bellman-Ford rounds over the jobs, every job a
possible next link at once (numpy), then checked exactly before one is applied. An
iterated local search alternates random feasible shifts and swaps with chain descents,
keeping the result when it is no worse. Only placed jobs move and they stay placed, so
the fill never changes; the cost can only go down. Everything else (split jobs, jobs
spread over periods, unplaced jobs) stays put, with the capacity it uses.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from matching.instance import Allocation, Instance, Placement

INF = 1e18
CHAIN_DEPTH = 8  # longest chain, in jobs
CANDIDATES_PER_DEPTH = 5  # chain ends checked exactly per depth
KICK_MOVES = (2, 5)  # random shifts or swaps before each descent
KICK_CHOICES = 3  # a kick move is drawn among this many cheapest
STALL_STEPS = 100  # one more kick move per this many steps without a better allocation
MIN_JOBS = 3  # fewer movable jobs: nothing worth searching
# The work of a chain search or a kick beyond its matrices (Python and numpy call
# overhead), in matrix entries: what tiny groups mostly spend.
OVERHEAD_UNITS = 100_000
# The search keeps dense (buckets x jobs) and (jobs x jobs) matrices: above this many
# entries a group is left to CP-SAT alone, so memory stays bounded.
MAX_ENTRIES = 4_000_000


@dataclass(slots=True)
class _State:
    jobs: np.ndarray  # instance job index of each movable job
    columns: np.ndarray  # their column in the group's matrices
    cost: np.ndarray  # (buckets, jobs): cost of the job whole in the bucket, INF if not there
    weight: np.ndarray  # (buckets, jobs): capacity units, INF if not there
    capacity: np.ndarray  # per bucket, for the movable jobs
    base: np.ndarray  # bucket of each job in the allocation the state was loaded from


class ChainSearch:
    """Iterated local search with ejection chains over one group of jobs.

    `load` takes the live allocation, `step` runs one kick-and-descent (or a slice of it,
    at most about `work_limit`) and returns the work it did (matrix entries touched, for
    the reproducible clock), `placements` gives the best allocation found as new
    placements of the jobs that changed.
    """

    def __init__(self, instance: Instance, jobs: list[int], seed: int):
        self.instance = instance
        self.rng = random.Random(seed)
        candidates = [j for j in jobs if not instance.jobs[j].splittable]
        buckets: dict[int, int] = {}
        entries: list[tuple[int, int, int, int, int, int]] = []  # row, column, c, p, ...
        for column, j in enumerate(candidates):
            info = instance.jobs[j]
            for c, choice in enumerate(info.choices):
                need = choice.full * choice.usage
                for p, b in enumerate(choice.buckets):
                    if instance.bucket_capacity[b] < need:
                        continue
                    row = buckets.setdefault(b, len(buckets))
                    entries.append((row, column, c, p, choice.cost_units, need))
        self.candidates = candidates
        self.buckets = np.array(list(buckets), dtype=np.int64)
        self.row_of = buckets
        self.too_big = max(len(buckets), len(candidates)) * len(candidates) > MAX_ENTRIES
        if self.too_big:
            entries = []
        shape = (len(buckets), len(candidates)) if entries else (0, 0)
        self.cost = np.full(shape, INF)
        self.weight = np.full(shape, INF)
        self.choice_at = np.full(shape, -1, dtype=np.int64)
        self.period_at = np.full(shape, -1, dtype=np.int64)
        split_units = instance.split_units
        for row, column, c, p, cost_units, need in entries:
            self.cost[row, column] = cost_units * split_units
            self.weight[row, column] = need
            self.choice_at[row, column] = c
            self.period_at[row, column] = p
        self.state: _State | None = None
        self.index_of: dict[int, int] = {}
        self.current: np.ndarray | None = None
        self.current_cost = 0.0
        self.best: np.ndarray | None = None
        self.best_cost = 0.0
        self.base_cost = 0.0
        self.descended = False
        self.trial: tuple[np.ndarray, float] | None = None  # a descent under way
        self.trial_improved = False
        self.stalled = 0  # descents since the best improved

    @property
    def usable(self) -> bool:
        return len(self.candidates) >= MIN_JOBS and len(self.buckets) >= 2 and not self.too_big

    # --- state --------------------------------------------------------------------

    def load(self, allocation: Allocation, used: list[int]) -> bool:
        """Take the movable jobs of `allocation` (bucket usage `used`) as the start.
        False when too few jobs can move."""
        instance = self.instance
        jobs, columns, rows = [], [], []
        for column, j in enumerate(self.candidates):
            placement = allocation[j]
            if len(placement) != 1:
                continue
            c, p, amount = placement[0]
            choice = instance.jobs[j].choices[c]
            row = self.row_of.get(choice.buckets[p])
            if row is None or amount != choice.full:
                continue
            jobs.append(j)
            columns.append(column)
            rows.append(row)
        if len(jobs) < MIN_JOBS:
            self.state = None
            return False
        columns_array = np.array(columns, dtype=np.int64)
        x = np.array(rows, dtype=np.int64)
        cost = self.cost[:, columns_array]
        weight = self.weight[:, columns_array]
        index = np.arange(len(jobs))
        movable_use = np.bincount(x, weights=weight[x, index], minlength=len(self.buckets))
        used_array = np.array(used, dtype=np.float64)[self.buckets]
        capacity = np.array(instance.bucket_capacity, dtype=np.float64)[self.buckets]
        self.state = _State(
            jobs=np.array(jobs, dtype=np.int64),
            columns=columns_array,
            cost=cost,
            weight=weight,
            capacity=capacity - used_array + movable_use,
            base=x,
        )
        self.index_of = {j: k for k, j in enumerate(jobs)}
        self.current = x.copy()
        self.current_cost = self.base_cost = self.best_cost = float(cost[x, index].sum())
        self.best = x.copy()
        self.descended = False
        self.trial = None
        self.trial_improved = False
        self.stalled = 0
        return True

    def rebase(self) -> None:
        """The best allocation was accepted: it is the new reference."""
        assert self.state is not None and self.best is not None
        self.state.base = self.best.copy()
        self.base_cost = self.best_cost

    def base_placement(self, j: int) -> Placement:
        """Job j's placement in the allocation the state was loaded from (or rebased to)."""
        state = self.state
        assert state is not None
        k = self.index_of[j]
        return self._placement(j, int(state.base[k]), int(state.columns[k]))

    def _placement(self, j: int, row: int, column: int) -> Placement:
        c, p = int(self.choice_at[row, column]), int(self.period_at[row, column])
        return ((c, p, self.instance.jobs[j].choices[c].full),)

    def placements(self) -> dict[int, Placement]:
        """New placements, for the jobs whose bucket differs in the best allocation."""
        state = self.state
        assert state is not None and self.best is not None
        changed: dict[int, Placement] = {}
        for k in np.nonzero(self.best != state.base)[0]:
            j = int(state.jobs[k])
            changed[j] = self._placement(j, int(self.best[k]), int(state.columns[k]))
        return changed

    @property
    def improved(self) -> bool:
        return self.state is not None and self.best_cost < self.base_cost - 0.5

    # --- search -------------------------------------------------------------------

    def step(self, work_limit: float = math.inf) -> int:
        """One iteration: the first descends from the start, later ones kick the current
        allocation and descend again. A descent stops after about `work_limit` and goes
        on at the next call; every allocation it passes is feasible, so a better one is
        kept at once. Returns the work done (matrix entries)."""
        state = self.state
        assert state is not None and self.current is not None
        if self.trial is None:
            if not self.descended:
                self.descended = True
                self.trial = (self.current.copy(), self.current_cost)
            else:
                self.trial = self._kick(self.current.copy(), self.current_cost)
            self.trial_improved = False
        x, cost = self.trial
        x, cost, work, done = self._descend(x, cost, work_limit)
        if cost < self.best_cost - 0.5:
            self.best, self.best_cost = x.copy(), cost
            self.trial_improved = True
            self.stalled = 0
        if not done:
            self.trial = (x, cost)
            return work
        self.trial = None
        if cost <= self.current_cost + 1e-6:
            self.current, self.current_cost = x, cost
        if not self.trial_improved:
            self.stalled += 1
        return work + OVERHEAD_UNITS

    def _loads(self, x: np.ndarray) -> np.ndarray:
        state = self.state
        assert state is not None
        index = np.arange(len(x))
        return np.bincount(x, weights=state.weight[x, index], minlength=len(self.buckets))

    def _descend(
        self, x: np.ndarray, cost: float, work_limit: float
    ) -> tuple[np.ndarray, float, int, bool]:
        """Apply the best improving chain while there is one: (allocation, cost, work,
        whether a local optimum was reached rather than the work limit)."""
        state = self.state
        assert state is not None
        load = self._loads(x)
        work = 0
        while True:
            if work >= work_limit:
                return x, cost, work, False
            delta, moves, spent = self._best_chain(x, load)
            work += spent
            if moves is None or delta > -0.5:
                return x, cost, work, True
            weight = state.weight
            for k, row in moves:
                load[x[k]] -= weight[x[k], k]
                load[row] += weight[row, k]
                x[k] = row
            cost += delta

    def _best_chain(
        self, x: np.ndarray, load: np.ndarray
    ) -> tuple[float, list[tuple[int, int]] | None, int]:
        """The most improving chain found: (cost change, [(job, new bucket), ...], work).

        Arc i -> j: job i enters the bucket of job j, which leaves it. A walk starts with
        a job leaving its bucket (saving its cost) and ends with the last job entering a
        bucket with room, or the bucket the first job left (a cyclic exchange, the only
        kind of chain among full buckets); each round of Bellman-Ford extends all walks
        by one arc."""
        state = self.state
        assert state is not None
        cost, weight, capacity = state.cost, state.weight, state.capacity
        n = len(x)
        index = np.arange(n)
        own = cost[x, index]
        room = capacity - load
        enter_cost = cost[x, :]  # [j, i]: job i in the bucket of job j
        fits = weight[x, :] <= (room[x] + weight[x, index])[:, None]
        fits &= x[:, None] != x[None, :]
        arc = np.where(fits, enter_cost - own[:, None], INF).T  # [i, j]
        end = np.where(weight <= room[:, None], cost, INF)
        end[x, index] = INF
        end_best = end.min(axis=0)
        dist = -own
        origin = index  # first job of the best walk to each job
        preds: list[np.ndarray] = []
        best: tuple[float, list[tuple[int, int]] | None] = (-0.5, None)
        work = 3 * n * n + 2 * end.size + OVERHEAD_UNITS
        for depth in range(1, CHAIN_DEPTH + 1):
            closing = arc[index, origin] + own[origin]  # back into the first job's bucket
            total = dist + np.minimum(end_best, closing)
            count = min(CANDIDATES_PER_DEPTH, n)
            for last in np.argpartition(total, count - 1)[:count]:
                if total[last] >= best[0]:
                    continue
                path = [int(last)]
                for pred in reversed(preds):
                    path.append(int(pred[path[-1]]))
                path.reverse()
                checked = self._check(x, load, path)
                if checked is not None and checked[0] < best[0]:
                    best = checked
            if depth == CHAIN_DEPTH:
                break
            walks = dist[:, None] + arc
            pred = np.argmin(walks, axis=0)
            dist = walks[pred, index]
            origin = origin[pred]
            preds.append(pred)
            work += 2 * n * n
        return best[0], best[1], work

    def _check(
        self, x: np.ndarray, load: np.ndarray, path: list[int]
    ) -> tuple[float, list[tuple[int, int]]] | None:
        """Exact cost change of the chain `path` with its cheapest end, or None if it
        revisits a bucket or overfills one."""
        state = self.state
        assert state is not None
        rows = [int(x[k]) for k in path]
        if len(set(rows)) != len(rows):
            return None
        cost, weight, capacity = state.cost, state.weight, state.capacity
        after = load.copy()
        first = path[0]
        delta = -cost[rows[0], first]
        after[rows[0]] -= weight[rows[0], first]
        moves = []
        for step in range(len(path) - 1):
            job, bucket = path[step], rows[step + 1]
            leaving = path[step + 1]
            delta += cost[bucket, job] - cost[bucket, leaving]
            after[bucket] += weight[bucket, job] - weight[bucket, leaving]
            if after[bucket] > capacity[bucket]:
                return None
            moves.append((job, bucket))
        last = path[-1]
        ends = weight[:, last] + after <= capacity
        ends[rows[1:]] = False  # buckets already in the chain, the first excepted
        if len(path) == 1:
            ends[rows[0]] = False  # a lone job stays where it is
        ends_cost = np.where(ends, cost[:, last], INF)
        end = int(np.argmin(ends_cost))
        if ends_cost[end] >= INF:
            return None
        moves.append((last, end))
        return float(delta + ends_cost[end]), moves

    def _kick(self, x: np.ndarray, cost: float) -> tuple[np.ndarray, float]:
        """A few random shifts and swaps that keep every bucket within capacity, each
        drawn among the cheapest few that fit (a kick into a costly corner is undone by
        the next descent anyway)."""
        state = self.state
        assert state is not None
        rng = self.rng
        weights, costs, capacity = state.weight, state.cost, state.capacity
        load = self._loads(x)
        n = len(x)
        index = np.arange(n)
        moves = rng.randint(*KICK_MOVES) + min(self.stalled // STALL_STEPS, n // 4)
        for _ in range(moves):
            k = rng.randrange(n)
            a = int(x[k])
            if rng.random() < 0.5:
                fits = load + weights[:, k] <= capacity
                fits[a] = False
                options = np.nonzero(fits)[0]
                if not len(options):
                    continue
                options = options[np.argsort(costs[options, k], kind="stable")[:KICK_CHOICES]]
                row = int(options[rng.randrange(len(options))])
                load[a] -= weights[a, k]
                load[row] += weights[row, k]
                cost += costs[row, k] - costs[a, k]
                x[k] = row
            else:
                # k swaps with a job of another bucket, both fitting afterwards.
                others = x
                load_a = load[a] - weights[a, k] + weights[a, :]
                load_b = load[others] - weights[others, index] + weights[others, k]
                fits = (load_a <= capacity[a]) & (load_b <= capacity[others]) & (others != a)
                options = np.nonzero(fits)[0]
                if not len(options):
                    continue
                change = (
                    costs[a, options]
                    + costs[others[options], k]
                    - costs[a, k]
                    - costs[others[options], options]
                )
                options = options[np.argsort(change, kind="stable")[:KICK_CHOICES]]
                k2 = int(options[rng.randrange(len(options))])
                b = int(x[k2])
                load[a] += weights[a, k2] - weights[a, k]
                load[b] += weights[b, k] - weights[b, k2]
                cost += costs[a, k2] + costs[b, k] - costs[a, k] - costs[b, k2]
                x[k], x[k2] = b, a
        return x, cost
