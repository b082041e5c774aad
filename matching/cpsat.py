"""CP-SAT model of (part of) an instance, solved lexicographically.

A model covers a set of free jobs, optionally restricted to a set of factories, against
the capacity left by every other job, which stays fixed. The whole problem is the case
with all jobs free; a large-neighbourhood-search move is a small one.

The objective is truly lexicographic: one CP-SAT phase per level (weighted fill, then
optionally kept hours for re-matching, then cost), each phase fixing the value reached
by the previous one as a constraint. Every phase is hinted with the best allocation
known. LNS moves may instead use one weighted objective (each level outweighing the
next), which is faster on small models; their callers keep a move only if it is not
lexicographically worse, compared exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from matching.instance import Allocation, Instance, Placement

FILL, KEEP, COST = "fill", "keep", "cost"
COMBINED_LEVEL_SPAN = 10**6
MAXIMIZED = {FILL: True, KEEP: True, COST: False}


# CP-SAT's deterministic time runs several times slower than the clock on these models;
# a reproducible budget of S seconds is S * this many deterministic units.
DETERMINISTIC_UNITS_PER_SECOND = 0.15
WALL_SAFETY_FACTOR = 3  # a reproducible run stops anyway at this multiple of its budget


@dataclass(frozen=True, slots=True)
class Budget:
    """A time limit in seconds, measured on the wall clock or, when reproducible, in
    CP-SAT deterministic time converted at DETERMINISTIC_UNITS_PER_SECOND."""

    seconds: float
    deterministic: bool = False

    def apply(self, parameters: object) -> None:
        seconds = max(self.seconds, 0.01)
        if self.deterministic:
            parameters.max_deterministic_time = seconds * DETERMINISTIC_UNITS_PER_SECOND
            parameters.max_time_in_seconds = WALL_SAFETY_FACTOR * seconds + 1
        else:
            parameters.max_time_in_seconds = seconds


def seconds_of(deterministic_time: float) -> float:
    return deterministic_time / DETERMINISTIC_UNITS_PER_SECOND


@dataclass(slots=True)
class _Amount:
    """How one (choice, period) amount of a job reads off the model: var * multiplier."""

    choice: int
    position: int
    var: cp_model.IntVar
    multiplier: int


@dataclass(slots=True)
class SubModel:
    instance: Instance
    jobs: list[int]
    model: cp_model.CpModel
    amounts: dict[int, list[_Amount]]
    whole_choices: dict[int, list[tuple[cp_model.IntVar, int]]]  # spread over periods
    terms: dict[str, list[tuple[cp_model.IntVar, int]]]  # per objective level
    best_possible_fill: int
    kept_amounts: dict[tuple[int, int, int], int] | None

    def objective(self, level: str) -> cp_model.LinearExpr:
        return _weighted(self.terms[level])

    def combined_objective(self, levels: list[str]) -> tuple[cp_model.LinearExpr, bool]:
        """One expression to maximise in which each level outweighs all later ones, and
        whether it is exact. Wide levels (cost) are coarsened to keep CP-SAT's numbers
        small; the caller's exact comparison then decides whether a move is kept."""
        weighted: list[tuple[cp_model.IntVar, int]] = []
        weight, exact = 1, True
        for level in reversed(levels):
            sign = 1 if MAXIMIZED[level] else -1
            span = sum(abs(coef) * _upper(var) for var, coef in self.terms[level])
            divisor = max(1, span // COMBINED_LEVEL_SPAN)
            exact = exact and divisor == 1
            weighted.extend(
                (var, sign * weight * round(coef / divisor)) for var, coef in self.terms[level]
            )
            weight *= span // divisor + 1
        return _weighted(weighted), exact

    def hint(self, allocation: Allocation) -> None:
        self.model.clear_hints()
        for j in self.jobs:
            current = {(c, p): amount for c, p, amount in allocation[j]}
            chosen = {c for c, _, _ in allocation[j]}
            for entry in self.amounts[j]:
                value = current.get((entry.choice, entry.position), 0) // entry.multiplier
                self.model.add_hint(entry.var, value)
            for var, c in self.whole_choices[j]:
                self.model.add_hint(var, int(c in chosen))

    def read(self, value: Callable[[cp_model.IntVar], int]) -> dict[int, Placement]:
        placements: dict[int, Placement] = {}
        for j in self.jobs:
            parts = []
            for entry in self.amounts[j]:
                amount = value(entry.var) * entry.multiplier
                if amount:
                    parts.append((entry.choice, entry.position, amount))
            placements[j] = tuple(sorted(parts))
        return placements

    def level(self, allocation: Allocation, level: str) -> int:
        """Value of `level` for this model's jobs in `allocation` (in the model's sense)."""
        instance = self.instance
        if level == FILL:
            return sum(instance.job_fill(j, allocation[j]) for j in self.jobs)
        if level == COST:
            return sum(instance.job_cost(j, allocation[j]) for j in self.jobs)
        return kept_units(instance, allocation, self.jobs, self.kept_amounts or {})


def build(
    instance: Instance,
    jobs: Iterable[int],
    residual: list[int],
    factories: set[int] | None = None,
    kept_amounts: dict[tuple[int, int, int], int] | None = None,
) -> SubModel:
    """Model for `jobs` placed within `residual` capacity (capacity units per bucket).

    `kept_amounts` maps (job, choice, period position) to a previous amount; with it the
    model gets a KEEP objective: capacity units of the previous plan left in place.
    """
    model = cp_model.CpModel()
    jobs = list(jobs)
    amounts: dict[int, list[_Amount]] = {}
    choice_vars: dict[int, list[tuple[cp_model.IntVar, int]]] = {}
    bucket_terms: dict[int, list[tuple[cp_model.IntVar, int]]] = {}
    fill_terms: list[tuple[cp_model.IntVar, int]] = []
    cost_terms: list[tuple[cp_model.IntVar, int]] = []
    keep_terms: list[tuple[cp_model.IntVar, int]] = []
    split_units = instance.split_units
    best_possible_fill = 0
    for j in jobs:
        info = instance.jobs[j]
        entries: list[_Amount] = []
        choice_vars[j] = []
        whole_choices = []
        job_amount_vars = []
        placeable = False
        for c, choice in enumerate(info.choices):
            if factories is not None and choice.factory not in factories:
                continue
            room = [min(choice.full, residual[b] // choice.usage) for b in choice.buckets]
            if info.splittable:
                for p, bound in enumerate(room):
                    if bound <= 0:
                        continue
                    z = model.new_int_var(0, bound, "")
                    entries.append(_Amount(c, p, z, 1))
                    job_amount_vars.append(z)
                    bucket_terms.setdefault(choice.buckets[p], []).append((z, choice.usage))
                    fill_terms.append((z, info.priority_units))
                    cost_terms.append((z, choice.cost_units))
                    _keep_term(kept_amounts, j, c, p, z, 1, choice.usage, model, keep_terms)
                    placeable = True
                continue
            if sum(room) < choice.full:
                continue
            placeable = True
            y = model.new_bool_var("")
            whole_choices.append(y)
            fill_terms.append((y, info.fill_full))
            cost_terms.append((y, choice.cost_units * split_units))
            usable = [p for p, bound in enumerate(room) if bound > 0]
            if len(usable) == 1:
                p = usable[0]
                entries.append(_Amount(c, p, y, choice.full))
                bucket_terms.setdefault(choice.buckets[p], []).append(
                    (y, choice.full * choice.usage)
                )
                _keep_term(kept_amounts, j, c, p, y, choice.full, choice.usage, model, keep_terms)
                continue
            choice_vars[j].append((y, c))
            xs = []
            for p in usable:
                x = model.new_int_var(0, room[p], "")
                xs.append(x)
                entries.append(_Amount(c, p, x, 1))
                bucket_terms.setdefault(choice.buckets[p], []).append((x, choice.usage))
                _keep_term(kept_amounts, j, c, p, x, 1, choice.usage, model, keep_terms)
            model.add(sum(xs) == choice.full * y)
        if info.splittable and job_amount_vars:
            model.add(sum(job_amount_vars) <= split_units)
        elif len(whole_choices) > 1:
            model.add_at_most_one(whole_choices)
        if placeable:
            best_possible_fill += info.fill_full
        amounts[j] = entries
    for b, terms in bucket_terms.items():
        if sum(coef * _upper(var) for var, coef in terms) > residual[b]:
            model.add(
                cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [c for _, c in terms])
                <= residual[b]
            )
    terms = {FILL: fill_terms, COST: cost_terms}
    if kept_amounts is not None:
        terms[KEEP] = keep_terms
    return SubModel(
        instance,
        jobs,
        model,
        amounts,
        choice_vars,
        terms,
        best_possible_fill,
        kept_amounts,
    )


def _upper(var: cp_model.IntVar) -> int:
    domain = var.proto.domain
    return domain[len(domain) - 1]


def _weighted(terms: list[tuple[cp_model.IntVar, int]]) -> cp_model.LinearExpr:
    return cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [c for _, c in terms])


def _keep_term(
    kept_amounts: dict[tuple[int, int, int], int] | None,
    j: int,
    c: int,
    p: int,
    var: cp_model.IntVar,
    multiplier: int,
    weight: int,
    model: cp_model.CpModel,
    keep_terms: list[tuple[cp_model.IntVar, int]],
) -> None:
    if not kept_amounts:
        return
    previous = kept_amounts.get((j, c, p), 0)
    if previous <= 0:
        return
    if multiplier > 1:  # a 0/1 choice variable: keeps min(previous, whole) if taken
        keep_terms.append((var, min(previous, multiplier) * weight))
        return
    kept = model.new_int_var(0, previous, "")
    model.add(kept <= var)
    keep_terms.append((kept, weight))


def level_values(
    instance: Instance,
    allocation: Allocation,
    jobs: Iterable[int],
    levels: list[str],
    kept_amounts: dict[tuple[int, int, int], int] | None,
) -> tuple[int, ...]:
    """The objective levels of `jobs` in `allocation`, signed so that larger is better."""
    values = []
    jobs = list(jobs)
    for level in levels:
        if level == FILL:
            values.append(sum(instance.job_fill(j, allocation[j]) for j in jobs))
        elif level == COST:
            values.append(-sum(instance.job_cost(j, allocation[j]) for j in jobs))
        else:
            values.append(kept_units(instance, allocation, jobs, kept_amounts or {}))
    return tuple(values)


def kept_units(
    instance: Instance,
    allocation: Allocation,
    jobs: Iterable[int],
    kept_amounts: dict[tuple[int, int, int], int],
) -> int:
    total = 0
    for j in jobs:
        for c, p, amount in allocation[j]:
            previous = kept_amounts.get((j, c, p), 0)
            total += min(previous, amount) * instance.jobs[j].choices[c].usage
    return total


@dataclass(slots=True)
class Outcome:
    placements: dict[int, Placement] | None  # None: nothing better than the hint found
    proven: bool  # every level proven optimal for this model
    cost_bound: int | None  # proven lower bound of the cost level (cost units)
    deterministic_time: float = 0.0


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(self, report: Callable[[int], None]):
        super().__init__()
        self._report = report

    def on_solution_callback(self) -> None:
        self._report(round(self.objective_value))


def optimize(
    sub: SubModel,
    levels: list[str],
    incumbent: Allocation,
    budget: Budget,
    workers: int,
    seed: int,
    on_improvement: Callable[[str, int], None] | None = None,
    presolve: bool = True,
    combined: bool = False,
) -> Outcome:
    """Optimize the levels in turn; each phase starts from the best allocation so far.

    With `combined`, one solve of a weighted objective replaces the phases: faster for
    LNS moves, whose result the caller compares exactly anyway.
    """
    if combined:
        return _optimize_combined(sub, levels, incumbent, budget, seed, presolve)
    start = time.perf_counter()
    best: dict[int, Placement] | None = None
    current = incumbent
    proven = True
    cost_bound = None
    used_dtime = 0.0
    remaining_levels = len(levels)
    for level in levels:
        expr = sub.objective(level)
        maximize = MAXIMIZED[level]
        if level == FILL and sub.level(current, FILL) >= sub.best_possible_fill:
            sub.model.add(expr >= sub.best_possible_fill)
            remaining_levels -= 1
            continue
        spent = seconds_of(used_dtime) if budget.deterministic else time.perf_counter() - start
        left = budget.seconds - spent
        share = left / remaining_levels if remaining_levels > 1 else left
        remaining_levels -= 1
        if maximize:
            sub.model.maximize(expr)
        else:
            sub.model.minimize(expr)
        sub.hint(current)
        solver = _solver(Budget(share, budget.deterministic), workers, seed, presolve)
        callback = None
        if on_improvement is not None:
            callback = _Progress(lambda value, level=level: on_improvement(level, value))
        status = solver.solve(sub.model, callback)
        used_dtime += solver.deterministic_time
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            best = sub.read(solver.value)
            current = _overlay(current, best)
            value = round(solver.objective_value)
            if status != cp_model.OPTIMAL:
                proven = False
            if level == COST:
                cost_bound = (
                    value if status == cp_model.OPTIMAL else _ceil(solver.best_objective_bound)
                )
        else:
            proven = False
            value = sub.level(current, level)
        if maximize:
            sub.model.add(expr >= value)
        else:
            sub.model.add(expr <= value)
    return Outcome(best, proven, cost_bound, used_dtime)


def _optimize_combined(
    sub: SubModel,
    levels: list[str],
    incumbent: Allocation,
    budget: Budget,
    seed: int,
    presolve: bool,
) -> Outcome:
    expr, exact = sub.combined_objective(levels)
    sub.model.maximize(expr)
    sub.hint(incumbent)
    solver = _solver(budget, 1, seed, presolve)
    status = solver.solve(sub.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Outcome(
            sub.read(solver.value),
            exact and status == cp_model.OPTIMAL,
            None,
            solver.deterministic_time,
        )
    return Outcome(None, False, None, solver.deterministic_time)


def _solver(budget: Budget, workers: int, seed: int, presolve: bool) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    params = solver.parameters
    budget.apply(params)
    params.num_workers = workers
    params.random_seed = seed
    params.log_search_progress = False
    # On the small models of LNS moves presolve costs more than it saves.
    params.cp_model_presolve = presolve
    return solver


def _ceil(value: float) -> int:
    return math.ceil(value - 1e-6)


def _overlay(allocation: Allocation, placements: dict[int, Placement]) -> Allocation:
    merged = list(allocation)
    for j, placement in placements.items():
        merged[j] = placement
    return merged
