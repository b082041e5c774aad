"""Contract v1 of the allocation engine (docs/matching-problem.md): typed problem and
plan, JSON in and out. Raw problem data is checked by `matching.validation` first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from matching.validation import DEFAULT_PERIODS, validate


class ProblemError(ValueError):
    """An invalid problem; `errors` holds one `path: message` line per problem found."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CapacityEntry(_Frozen):
    resource: str
    period: str
    hours: float


class Factory(_Frozen):
    id: str
    credit: float = 1.0
    capacity: tuple[CapacityEntry, ...] = ()


class JobOption(_Frozen):
    factory: str
    cost: float
    hours: float | None = None
    lead_periods: int = 0


class Job(_Frozen):
    id: str
    resource: str
    hours: float
    release_period: str | None = None
    due_period: str | None = None
    min_credit: float = 0.0
    splittable: bool = False
    priority: float = 1.0
    options: tuple[JobOption, ...] = ()

    def hours_at(self, option: JobOption) -> float:
        """The job's hours at `option`'s factory: the option's own, else the nominal."""
        return option.hours if option.hours is not None else self.hours


class Params(_Frozen):
    time_limit_s: float | None = None
    workers: int | None = None
    seed: int | None = None


class Problem(_Frozen):
    version: Literal[1] = 1
    periods: tuple[str, ...] = DEFAULT_PERIODS
    factories: tuple[Factory, ...]
    jobs: tuple[Job, ...]
    params: Params = Field(default_factory=Params)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2)


PlanStatus = Literal["OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN"]


class Assignment(_Frozen):
    job: str
    factory: str
    period: str
    hours: float


class Unassigned(_Frozen):
    job: str
    hours: float


class Plan(_Frozen):
    """A plan in the contract's shape, plus one extra key: `fill`, the priority-weighted
    share of work placed (0..1), so callers need not recompute the first objective.

    `fill` stays in the JSON because readers outside the engine use it: the marketplace
    stores `model_dump(mode="json")` as a run's plan and shows its `fill` as the run's
    final progress (marketplace/orders/runs.py), and its tests read `fill` back from
    `factoryweb match` output. Parsers that know only the contract's six keys can skip
    it; loading accepts plans with or without it (None then), and ignores unknown keys.
    """

    status: PlanStatus
    objective: float
    bound: float | None
    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]
    solve_s: float
    fill: float | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)


def load_problem(source: str | Path | dict[str, Any]) -> Problem:
    """Load a problem from a path, a JSON string or already-parsed JSON data.

    Raises ProblemError listing every invalid field.
    """
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProblemError([f"{source}: cannot read file: {exc}"]) from exc
        return load_problem(text)
    data = parse_json(source) if isinstance(source, str) else source
    errors = validate(data)
    if errors:
        raise ProblemError(errors)
    return Problem.model_validate(data)


def load_plan(source: str | Path | dict[str, Any]) -> Plan:
    if isinstance(source, Path):
        source = source.read_text(encoding="utf-8")
    data = parse_json(source) if isinstance(source, str) else source
    return Plan.model_validate(data)


def parse_json(text: str) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise ProblemError(
            [f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from exc
    except ValueError as exc:
        raise ProblemError([f"invalid JSON: {exc}"]) from exc
