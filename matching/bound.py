"""LP bound of the allocation problem, in two GLOP stages.

The relaxation lets every job be split across factories and periods, except that a
non-splittable job may only use a factory whose capacity in the job's window can hold
it whole. That cut is valid (such a factory can never take the job) and without it the
bound is far too loose. Options failing it are already dropped when the instance is
compiled, so the LP simply uses the instance's choices.

Stage 1 maximises the priority-weighted fill; stage 2 minimises cost at a given fill:
a lower bound on the cost of any plan placing at least that much work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from matching.instance import Instance

FILL_TOLERANCE = 1e-9
COST_SAFETY = 1e-7  # GLOP's feasibility tolerance may overstate the optimum slightly
# GLOP's pace on these models, building included, in (job, choice, period) triples.
LP_TERMS_PER_SECOND = 15_000


def lp_seconds(size: int) -> float:
    """About how long an LP over `size` (job, choice, period) triples takes."""
    return size / LP_TERMS_PER_SECOND


@dataclass(frozen=True, slots=True)
class LpBound:
    fill: float  # maximum priority-weighted fill (sum of priority x fraction placed)
    cost: float  # minimum cost at that fill


class _Relaxation:
    def __init__(self, instance: Instance, jobs: Iterable[int] | None):
        self.instance = instance
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        if self.solver is None:
            raise RuntimeError("the GLOP linear solver is not available")
        self.fill_terms: list[tuple[pywraplp.Variable, float]] = []
        self.fractions: list[tuple[int, int, int, pywraplp.Variable]] = []  # j, c, p, var
        self.cost_terms: list[tuple[pywraplp.Variable, float]] = []
        bucket_rows: dict[int, list[tuple[pywraplp.Variable, float]]] = {}
        problem = instance.problem
        indices = range(len(instance.jobs)) if jobs is None else jobs
        for j in indices:
            info = instance.jobs[j]
            priority = problem.jobs[j].priority
            fractions = []
            for c, choice in enumerate(info.choices):
                for p, b in enumerate(choice.buckets):
                    # A fraction of the job above capacity/hours could not fit the bucket.
                    upper = min(1.0, instance.bucket_hours[b] / choice.hours)
                    f = self.solver.NumVar(0.0, upper, "")
                    fractions.append(f)
                    self.fractions.append((j, c, p, f))
                    self.fill_terms.append((f, priority))
                    self.cost_terms.append((f, choice.cost))
                    bucket_rows.setdefault(b, []).append((f, choice.hours))
            if len(fractions) > 1:
                row = self.solver.Constraint(0.0, 1.0)
                for f in fractions:
                    row.SetCoefficient(f, 1.0)
        for b, terms in bucket_rows.items():
            row = self.solver.Constraint(0.0, instance.bucket_hours[b])
            for f, hours in terms:
                row.SetCoefficient(f, hours)

    def max_fill(self) -> float:
        objective = self.solver.Objective()
        objective.Clear()
        for f, priority in self.fill_terms:
            objective.SetCoefficient(f, priority)
        objective.SetMaximization()
        self._solve()
        return objective.Value()

    def min_cost(self, min_fill: float) -> float:
        row = self.solver.Constraint(
            min_fill * (1 - FILL_TOLERANCE) - FILL_TOLERANCE, self.solver.infinity()
        )
        for f, priority in self.fill_terms:
            row.SetCoefficient(f, priority)
        objective = self.solver.Objective()
        objective.Clear()
        for f, cost in self.cost_terms:
            objective.SetCoefficient(f, cost)
        objective.SetMinimization()
        self._solve()
        return max(0.0, objective.Value() * (1 - COST_SAFETY) - COST_SAFETY)

    def _solve(self) -> None:
        status = self.solver.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            raise RuntimeError(f"GLOP ended with status {status}")


def lp_bound(instance: Instance, jobs: Iterable[int] | None = None) -> LpBound:
    """Maximum weighted fill of the relaxation, then its minimum cost at that fill."""
    relaxation = _Relaxation(instance, jobs)
    fill = relaxation.max_fill()
    return LpBound(fill=fill, cost=relaxation.min_cost(fill))


def lp_solution(
    instance: Instance, jobs: Iterable[int] | None = None
) -> tuple[LpBound, dict[int, list[tuple[int, int, float]]]]:
    """The bound and a cheapest maximum-fill solution of the relaxation: per job,
    (choice, period position, fraction of the job) with a positive fraction."""
    relaxation = _Relaxation(instance, jobs)
    fill = relaxation.max_fill()
    cost = relaxation.min_cost(fill)
    solution: dict[int, list[tuple[int, int, float]]] = {}
    for j, c, p, var in relaxation.fractions:
        value = var.solution_value()
        if value > 1e-9:
            solution.setdefault(j, []).append((c, p, value))
    return LpBound(fill=fill, cost=cost), solution


def lp_min_cost(instance: Instance, min_fill: float, jobs: Iterable[int] | None = None) -> float:
    """Lower bound on the cost of any plan whose weighted fill over `jobs` is >= min_fill."""
    return _Relaxation(instance, jobs).min_cost(min_fill)
