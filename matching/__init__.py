"""FactoryWeb's allocation engine: contract-v1 problems in, plans out (pure Python +
OR-Tools; no web framework, no database)."""

from matching.explain import explain
from matching.problem import (
    Assignment,
    Plan,
    Problem,
    ProblemError,
    Unassigned,
    load_plan,
    load_problem,
    validate,
)
from matching.rematch import rematch
from matching.solver import solve

__all__ = [
    "Assignment",
    "Plan",
    "Problem",
    "ProblemError",
    "Unassigned",
    "explain",
    "load_plan",
    "load_problem",
    "rematch",
    "solve",
    "validate",
]
