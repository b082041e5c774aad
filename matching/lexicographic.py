"""Solving a CP-SAT sub-model (`matching.cpsat`) lexicographically, within a time budget.

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
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model, cp_model_helper

from matching.cpsat import SubModel
from matching.instance import Allocation, Placement, with_placements
from matching.objective import COST, FILL, MAXIMIZED

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

    def apply(self, parameters: cp_model_helper.SatParameters) -> None:
        seconds = max(self.seconds, 0.01)
        if self.deterministic:
            parameters.max_deterministic_time = seconds * DETERMINISTIC_UNITS_PER_SECOND
            parameters.max_time_in_seconds = WALL_SAFETY_FACTOR * seconds + 1
        else:
            parameters.max_time_in_seconds = seconds


def seconds_of(deterministic_time: float) -> float:
    return deterministic_time / DETERMINISTIC_UNITS_PER_SECOND


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
            callback = _Progress(_level_reporter(on_improvement, level))
        status = solver.solve(sub.model, callback)
        used_dtime += solver.deterministic_time
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            best = sub.read(solver.value)
            current = with_placements(current, best)
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


def _level_reporter(
    on_improvement: Callable[[str, int], None], level: str
) -> Callable[[int], None]:
    return lambda value: on_improvement(level, value)


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
