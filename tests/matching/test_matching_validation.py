"""Every invalid-input case of the contract, each reported with its JSON path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from matching import ProblemError, load_problem, validate


def valid() -> dict[str, Any]:
    return {
        "version": 1,
        "periods": ["W1", "W2"],
        "factories": [
            {
                "id": "f1",
                "credit": 0.9,
                "capacity": [{"resource": "cnc", "period": "W1", "hours": 40}],
            },
            {"id": "f2", "capacity": [{"resource": "cnc", "period": "W2", "hours": 10}]},
        ],
        "jobs": [
            {
                "id": "j1",
                "resource": "cnc",
                "hours": 10,
                "release_period": "W1",
                "due_period": "W2",
                "min_credit": 0.5,
                "splittable": False,
                "priority": 1,
                "options": [{"factory": "f1", "hours": 12, "cost": 340.0, "lead_periods": 0}],
            },
            {
                "id": "j2",
                "resource": "cnc",
                "hours": 5,
                "options": [{"factory": "f1", "cost": 1}, {"factory": "f2", "cost": 2}],
            },
        ],
        "params": {"time_limit_s": 10, "workers": 2},
    }


def change(path: str, value: Any) -> Callable[[dict], None]:
    """Set (or with value=... delete) the field at a dotted path like jobs.0.hours."""

    def apply(data: dict) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = int(last) if isinstance(target, list) else last
        if value is ...:
            del target[key]
        else:
            target[key] = value

    return apply


CASES = [
    ("version", change("version", 2), "version: must be 1, got 2"),
    ("version missing", change("version", ...), "version: missing"),
    ("factories missing", change("factories", ...), "factories: missing"),
    ("factories not a list", change("factories", {"id": "f1"}), "factories: must be a list"),
    ("jobs missing", change("jobs", ...), "jobs: missing"),
    ("jobs not a list", change("jobs", "j1"), "jobs: must be a list"),
    ("factory id missing", change("factories.1.id", ...), "factories[1].id: missing"),
    ("factory id not a string", change("factories.1.id", 7), "factories[1].id: must be a string"),
    ("factory id twice", change("factories.1.id", "f1"), 'factories[1].id: duplicate id "f1"'),
    ("job id missing", change("jobs.0.id", ...), "jobs[0].id: missing"),
    ("job id not a string", change("jobs.0.id", None), "jobs[0].id: must be a string"),
    ("job id twice", change("jobs.1.id", "j1"), 'jobs[1].id: duplicate id "j1"'),
    (
        "capacity period unknown",
        change("factories.0.capacity.0.period", "W9"),
        'factories[0].capacity[0].period: unknown period "W9"',
    ),
    (
        "capacity hours negative",
        change("factories.0.capacity.0.hours", -1),
        "factories[0].capacity[0].hours: must be >= 0",
    ),
    ("job hours zero", change("jobs.0.hours", 0), "jobs[0].hours: must be > 0"),
    ("job hours negative", change("jobs.0.hours", -3), "jobs[0].hours: must be > 0"),
    (
        "option hours zero",
        change("jobs.0.options.0.hours", 0),
        "jobs[0].options[0].hours: must be > 0",
    ),
    (
        "cost negative",
        change("jobs.0.options.0.cost", -0.5),
        "jobs[0].options[0].cost: must be >= 0",
    ),
    (
        "lead negative",
        change("jobs.0.options.0.lead_periods", -1),
        "jobs[0].options[0].lead_periods: must be >= 0",
    ),
    ("min_credit above 1", change("jobs.0.min_credit", 1.5), "jobs[0].min_credit: must be <= 1"),
    ("min_credit below 0", change("jobs.0.min_credit", -0.1), "jobs[0].min_credit: must be >= 0"),
    ("credit above 1", change("factories.0.credit", 2), "factories[0].credit: must be <= 1"),
    ("credit below 0", change("factories.0.credit", -1), "factories[0].credit: must be >= 0"),
    (
        "release unknown",
        change("jobs.0.release_period", "W0"),
        'jobs[0].release_period: unknown period "W0"',
    ),
    ("due unknown", change("jobs.0.due_period", "W7"), 'jobs[0].due_period: unknown period "W7"'),
    (
        "release after due",
        lambda d: (change("jobs.0.release_period", "W2")(d), change("jobs.0.due_period", "W1")(d)),
        'jobs[0].release_period: "W2" comes after the due period "W1"',
    ),
    ("release after due by default", change("jobs.0.due_period", ...), None),
    (
        "unknown factory",
        change("jobs.0.options.0.factory", "f9"),
        'jobs[0].options[0].factory: unknown factory "f9"',
    ),
    (
        "factory twice",
        change("jobs.1.options.1.factory", "f1"),
        'jobs[1].options[1].factory: factory "f1" listed twice',
    ),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_problems_name_the_field(name: str, mutate: Callable, expected: str) -> None:
    data = valid()
    mutate(data)
    errors = validate(data)
    if expected is None:  # a valid variation, listed to show it is not rejected
        assert errors == []
        return
    assert errors and errors[0].startswith(expected), errors
    # Anything after it is a consequence, e.g. options naming a factory left without id.
    assert all("unknown factory" in e for e in errors[1:]), errors
    with pytest.raises(ProblemError) as raised:
        load_problem(data)
    assert raised.value.errors == errors


def test_the_valid_problem_is_valid() -> None:
    problem = load_problem(valid())
    assert problem.jobs[0].options[0].hours == 12
    assert problem.jobs[1].release_period is None  # defaults to the first period


def test_all_errors_are_reported_at_once() -> None:
    data = valid()
    data["version"] = 3
    data["jobs"][0]["hours"] = -1
    data["jobs"][1]["options"][0]["factory"] = "nowhere"
    data["factories"][1]["capacity"][0]["hours"] = -2
    errors = validate(data)
    assert [e.split(":")[0] for e in errors] == [
        "version",
        "factories[1].capacity[0].hours",
        "jobs[0].hours",
        "jobs[1].options[0].factory",
    ]


def test_unparsable_json_says_where() -> None:
    with pytest.raises(ProblemError) as raised:
        load_problem('{"version": 1,\n "jobs": [}')
    assert raised.value.errors[0].startswith("invalid JSON at line 2, column")


@pytest.mark.parametrize("text", ["[1, 2]", "3", '"a problem"'])
def test_the_problem_must_be_an_object(text: str) -> None:
    with pytest.raises(ProblemError):
        load_problem(text)


def test_jobs_without_options_and_defaults_are_valid() -> None:
    data = {"version": 1, "factories": [], "jobs": [{"id": "j", "resource": "r", "hours": 1}]}
    problem = load_problem(copy.deepcopy(data))
    assert problem.periods == ("P1",) and problem.jobs[0].options == ()
    assert problem.jobs[0].priority == 1 and problem.jobs[0].splittable is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jobs.0.hours", "10"),
        ("jobs.0.hours", True),
        ("jobs.0.splittable", "yes"),
        ("jobs.0.options.0.lead_periods", 1.5),
        ("params.workers", 0),
        ("params.time_limit_s", -1),
        ("jobs.0.priority", -1),
        ("jobs.0.resource", 4),
    ],
)
def test_wrong_types_are_rejected_with_their_path(field: str, value: Any) -> None:
    data = valid()
    change(field, value)(data)
    errors = validate(data)
    path = field.split(".")
    expected = path[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:])
    assert errors and errors[0].startswith(expected + ":"), errors
