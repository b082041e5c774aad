"""Contract v1 of the allocation engine: typed problem and plan, JSON in and out.

The contract (shared/specs/matching-problem-v1.md) is read by outside tools, so the
validator reports every error at once, each line starting with the JSON path of the
offending field, instead of stopping at the first one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_VERSION = 1
DEFAULT_PERIODS = ("P1",)


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


def validate(data: Any) -> list[str]:
    """Every contract violation in raw problem data, as `json.path: message` lines."""
    return list(_problem_errors(data))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def _show(value: Any) -> str:
    return json.dumps(value) if _is_json_scalar(value) else type(value).__name__


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _number_errors(
    obj: dict[str, Any],
    key: str,
    path: str,
    *,
    required: bool,
    low: float | None = None,
    high: float | None = None,
    strict_low: bool = False,
    integer: bool = False,
) -> Iterator[str]:
    if key not in obj:
        if required:
            yield f"{path}: missing"
        return
    value = obj[key]
    if not (_is_integer(value) if integer else _is_number(value)):
        kind = "an integer" if integer else "a number"
        yield f"{path}: must be {kind}, got {_show(value)}"
        return
    if low is not None and (value <= low if strict_low else value < low):
        yield f"{path}: must be {'>' if strict_low else '>='} {low:g}, got {value:g}"
    elif high is not None and value > high:
        yield f"{path}: must be <= {high:g}, got {value:g}"


def _list_field(obj: dict[str, Any], key: str, path: str, *, required: bool) -> list[Any] | None:
    """The list under `key`, or None after reporting why it is unusable."""
    if key not in obj:
        if required:
            raise _Missing(f"{path}: missing")
        return []
    value = obj[key]
    if not isinstance(value, list):
        raise _Missing(f"{path}: must be a list, got {_show(value)}")
    return value


class _Missing(Exception):
    pass


def _ids(items: list[Any], kind: str) -> Iterator[tuple[int, str | None, str | None]]:
    """(index, id, error) for each item of a factories/jobs list; id None when unusable."""
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"{kind}[{index}].id"
        if not isinstance(item, dict):
            yield index, None, f"{kind}[{index}]: must be an object, got {_show(item)}"
            continue
        if "id" not in item:
            yield index, None, f"{path}: missing"
            continue
        ident = item["id"]
        if not isinstance(ident, str):
            yield index, None, f"{path}: must be a string, got {_show(ident)}"
            continue
        if ident in first_seen:
            yield (
                index,
                None,
                (f'{path}: duplicate id "{ident}" (first used by {kind}[{first_seen[ident]}])'),
            )
            continue
        first_seen[ident] = index
        yield index, ident, None


def _problem_errors(data: Any) -> Iterator[str]:
    if not isinstance(data, dict):
        yield f"$: the problem must be a JSON object, got {_show(data)}"
        return
    if "version" not in data:
        yield "version: missing"
    elif data["version"] != CONTRACT_VERSION or isinstance(data["version"], bool):
        yield f"version: must be {CONTRACT_VERSION}, got {_show(data['version'])}"

    periods = yield from _periods(data)
    period_index = {name: i for i, name in enumerate(periods)}

    factory_credit: dict[str, Any] = {}
    try:
        factories = _list_field(data, "factories", "factories", required=True)
    except _Missing as exc:
        yield str(exc)
        factories = None
    if factories is not None:
        for index, ident, error in _ids(factories, "factories"):
            if error:
                yield error
            if isinstance(factories[index], dict):
                yield from _factory_errors(factories[index], f"factories[{index}]", period_index)
            if ident is not None:
                factory_credit[ident] = factories[index].get("credit", 1.0)

    try:
        jobs = _list_field(data, "jobs", "jobs", required=True)
    except _Missing as exc:
        yield str(exc)
        jobs = None
    if jobs is not None:
        for index, _ident, error in _ids(jobs, "jobs"):
            if error:
                yield error
            if isinstance(jobs[index], dict):
                yield from _job_errors(
                    jobs[index],
                    f"jobs[{index}]",
                    period_index,
                    known_factories=factory_credit if factories is not None else None,
                )

    if "params" in data:
        yield from _params_errors(data["params"])


def _periods(data: dict[str, Any]) -> Iterator[str]:
    """Yields errors; returns the usable period names (possibly empty)."""
    if "periods" not in data:
        return list(DEFAULT_PERIODS)
    periods = data["periods"]
    if not isinstance(periods, list):
        yield f"periods: must be a list, got {_show(periods)}"
        return []
    if not periods:
        yield "periods: must not be empty"
    names: list[str] = []
    for index, name in enumerate(periods):
        if not isinstance(name, str):
            yield f"periods[{index}]: must be a string, got {_show(name)}"
        elif name in names:
            yield f'periods[{index}]: duplicate period "{name}"'
        else:
            names.append(name)
    return names


def _period_ref_errors(
    obj: dict[str, Any], key: str, path: str, period_index: dict[str, int], *, required: bool
) -> Iterator[str]:
    if key not in obj:
        if required:
            yield f"{path}: missing"
        return
    value = obj[key]
    if not isinstance(value, str):
        yield f"{path}: must be a string, got {_show(value)}"
    elif value not in period_index:
        yield f'{path}: unknown period "{value}"'


def _string_errors(obj: dict[str, Any], key: str, path: str) -> Iterator[str]:
    if key not in obj:
        yield f"{path}: missing"
    elif not isinstance(obj[key], str):
        yield f"{path}: must be a string, got {_show(obj[key])}"


def _factory_errors(
    factory: dict[str, Any], path: str, period_index: dict[str, int]
) -> Iterator[str]:
    yield from _number_errors(factory, "credit", f"{path}.credit", required=False, low=0, high=1)
    try:
        capacity = _list_field(factory, "capacity", f"{path}.capacity", required=False)
    except _Missing as exc:
        yield str(exc)
        return
    for index, entry in enumerate(capacity):
        entry_path = f"{path}.capacity[{index}]"
        if not isinstance(entry, dict):
            yield f"{entry_path}: must be an object, got {_show(entry)}"
            continue
        yield from _string_errors(entry, "resource", f"{entry_path}.resource")
        yield from _period_ref_errors(
            entry, "period", f"{entry_path}.period", period_index, required=True
        )
        yield from _number_errors(entry, "hours", f"{entry_path}.hours", required=True, low=0)


def _job_errors(
    job: dict[str, Any],
    path: str,
    period_index: dict[str, int],
    known_factories: dict[str, Any] | None,
) -> Iterator[str]:
    yield from _string_errors(job, "resource", f"{path}.resource")
    yield from _number_errors(job, "hours", f"{path}.hours", required=True, low=0, strict_low=True)
    for key in ("release_period", "due_period"):
        yield from _period_ref_errors(job, key, f"{path}.{key}", period_index, required=False)
    release, due = job.get("release_period"), job.get("due_period")
    if (
        isinstance(release, str)
        and isinstance(due, str)
        and release in period_index
        and due in period_index
        and period_index[release] > period_index[due]
    ):
        yield f'{path}.release_period: "{release}" comes after the due period "{due}"'
    yield from _number_errors(
        job, "min_credit", f"{path}.min_credit", required=False, low=0, high=1
    )
    if "splittable" in job and not isinstance(job["splittable"], bool):
        yield f"{path}.splittable: must be true or false, got {_show(job['splittable'])}"
    yield from _number_errors(job, "priority", f"{path}.priority", required=False, low=0)
    try:
        options = _list_field(job, "options", f"{path}.options", required=False)
    except _Missing as exc:
        yield str(exc)
        return
    first_seen: dict[str, int] = {}
    for index, option in enumerate(options):
        option_path = f"{path}.options[{index}]"
        if not isinstance(option, dict):
            yield f"{option_path}: must be an object, got {_show(option)}"
            continue
        factory = option.get("factory")
        if "factory" not in option:
            yield f"{option_path}.factory: missing"
        elif not isinstance(factory, str):
            yield f"{option_path}.factory: must be a string, got {_show(factory)}"
        elif known_factories is not None and factory not in known_factories:
            yield f'{option_path}.factory: unknown factory "{factory}"'
        elif factory in first_seen:
            yield (
                f'{option_path}.factory: factory "{factory}" listed twice '
                f"(first at options[{first_seen[factory]}])"
            )
        else:
            first_seen[factory] = index
        yield from _number_errors(
            option, "hours", f"{option_path}.hours", required=False, low=0, strict_low=True
        )
        yield from _number_errors(option, "cost", f"{option_path}.cost", required=True, low=0)
        yield from _number_errors(
            option,
            "lead_periods",
            f"{option_path}.lead_periods",
            required=False,
            low=0,
            integer=True,
        )


def _params_errors(params: Any) -> Iterator[str]:
    if not isinstance(params, dict):
        yield f"params: must be an object, got {_show(params)}"
        return
    yield from _number_errors(
        params, "time_limit_s", "params.time_limit_s", required=False, low=0, strict_low=True
    )
    yield from _number_errors(
        params, "workers", "params.workers", required=False, low=1, integer=True
    )
    yield from _number_errors(params, "seed", "params.seed", required=False, low=0, integer=True)
