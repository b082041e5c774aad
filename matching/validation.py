"""Validation of raw contract-v1 problem data (docs/matching-problem.md).

The contract is read by outside tools, so the validator reports every error at once,
each line starting with the JSON path of the offending field, instead of stopping at
the first one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterator
from typing import Any

CONTRACT_VERSION = 1
DEFAULT_PERIODS = ("P1",)


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


def _list_field(obj: dict[str, Any], key: str, path: str, *, required: bool) -> list[Any]:
    """The list under `key` (empty when optional and absent); raises _Missing saying why
    it is unusable."""
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


def _top_list(data: dict[str, Any], key: str) -> Generator[str, None, list[Any] | None]:
    """Yields the error if the problem's list `key` is unusable; returns it, or None."""
    try:
        return _list_field(data, key, key, required=True)
    except _Missing as exc:
        yield str(exc)
        return None


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
    factories = yield from _top_list(data, "factories")
    if factories is not None:
        for index, ident, error in _ids(factories, "factories"):
            if error:
                yield error
            if isinstance(factories[index], dict):
                yield from _factory_errors(factories[index], f"factories[{index}]", period_index)
            if ident is not None:
                factory_credit[ident] = factories[index].get("credit", 1.0)

    jobs = yield from _top_list(data, "jobs")
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


def _periods(data: dict[str, Any]) -> Generator[str, None, list[str]]:
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
