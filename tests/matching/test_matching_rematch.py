from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import load_problem, rematch, solve
from tests.matching.feasibility import check_plan
from tests.matching.problems import problems, random_problem


def without_factory(data: dict, factory_id: str) -> dict:
    changed = json.loads(json.dumps(data))
    for factory in changed["factories"]:
        if factory["id"] == factory_id:
            factory["capacity"] = []
    return changed


def moved_hours(before, after) -> float:
    kept = {(a.job, a.factory, a.period): a.hours for a in after.assignments}
    return sum(
        max(0.0, a.hours - kept.get((a.job, a.factory, a.period), 0.0)) for a in before.assignments
    )


def test_fewest_moved_hours_come_before_cost() -> None:
    def cap(hours: float) -> list[dict]:
        return [{"resource": "r", "period": "P1", "hours": hours}]

    data = {
        "version": 1,
        "factories": [
            {"id": "a", "capacity": cap(5)},
            {"id": "b", "capacity": cap(5)},
            {"id": "c", "capacity": cap(5)},
        ],
        "jobs": [
            {
                "id": "ja",
                "resource": "r",
                "hours": 5,
                "options": [
                    {"factory": "a", "cost": 1},
                    {"factory": "b", "cost": 2},
                    {"factory": "c", "cost": 10},
                ],
            },
            {
                "id": "jb",
                "resource": "r",
                "hours": 5,
                "options": [{"factory": "b", "cost": 1}, {"factory": "c", "cost": 1.5}],
            },
        ],
    }
    previous = solve(load_problem(data), time_limit_s=2)
    assert {(a.job, a.factory) for a in previous.assignments} == {("ja", "a"), ("jb", "b")}
    changed = without_factory(data, "a")
    # Cheapest now: ja to b and jb to c (cost 3.5), which moves both jobs.
    fresh = solve(load_problem(changed), time_limit_s=2)
    assert fresh.objective == 3.5 and moved_hours(previous, fresh) == 10
    # Re-matching moves only the job that lost its factory, at a higher cost.
    plan = rematch(load_problem(changed), previous, time_limit_s=2)
    check_plan(changed, json.loads(plan.to_json()))
    assert {(a.job, a.factory) for a in plan.assignments} == {("ja", "c"), ("jb", "b")}
    assert moved_hours(previous, plan) == 5 and plan.objective == 11


def test_fill_comes_before_keeping_the_previous_plan() -> None:
    def cap(hours: float) -> list[dict]:
        return [{"resource": "r", "period": "P1", "hours": hours}]

    data = {
        "version": 1,
        "factories": [{"id": "a", "capacity": cap(5)}, {"id": "b", "capacity": cap(5)}],
        "jobs": [
            {"id": "ja", "resource": "r", "hours": 5, "options": [{"factory": "a", "cost": 1}]},
            {
                "id": "jb",
                "resource": "r",
                "hours": 5,
                "priority": 3,
                "options": [{"factory": "a", "cost": 1}, {"factory": "b", "cost": 1}],
            },
        ],
    }
    previous = solve(load_problem(data), time_limit_s=2)
    assert {(a.job, a.factory) for a in previous.assignments} == {("ja", "a"), ("jb", "b")}
    changed = without_factory(data, "b")
    # Keeping ja would move only 5 h, but the weightier jb must take its place.
    plan = rematch(load_problem(changed), previous, time_limit_s=2)
    check_plan(changed, json.loads(plan.to_json()))
    assert [(a.job, a.factory) for a in plan.assignments] == [("jb", "a")]
    assert plan.fill == 0.75


def test_rematch_moves_fewer_hours_than_a_fresh_solve_and_fills_as_much() -> None:
    data = random_problem(seed=11, factories=12, jobs=50, periods=2)
    problem = load_problem(data)
    previous = solve(problem, time_limit_s=2, workers=1)
    busiest = max(
        {a.factory for a in previous.assignments},
        key=lambda f: sum(a.hours for a in previous.assignments if a.factory == f),
    )
    changed = without_factory(data, busiest)
    again = solve(load_problem(changed), time_limit_s=2, workers=1)
    plan = rematch(load_problem(changed), previous, time_limit_s=2, workers=1)
    check_plan(changed, json.loads(plan.to_json()))
    assert plan.fill >= again.fill - 1e-9
    lost = sum(a.hours for a in previous.assignments if a.factory == busiest)
    assert moved_hours(previous, plan) <= moved_hours(previous, again)
    assert moved_hours(previous, plan) >= lost - 1e-9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.data())
def test_every_rematch_plan_is_feasible(data: dict, draw: st.DataObject) -> None:
    previous = solve(load_problem(data), time_limit_s=0.5, workers=1)
    lost = draw.draw(st.sampled_from([f["id"] for f in data["factories"]]), label="lost")
    changed = without_factory(data, lost)
    plan = rematch(load_problem(changed), previous, time_limit_s=0.5, workers=1)
    check_plan(changed, json.loads(plan.to_json()))
    assert all(a.factory != lost for a in plan.assignments)
    # What survives of the previous plan (all but the lost factory's part: all of a
    # non-splittable job placed there) fits the changed problem, so it is a floor.
    surviving = 0.0
    for job in data["jobs"]:
        option_hours = {o["factory"]: o.get("hours", job["hours"]) for o in job["options"]}
        parts = [a for a in previous.assignments if a.job == job["id"]]
        if not job.get("splittable") and any(a.factory == lost for a in parts):
            continue
        surviving += job.get("priority", 1) * sum(
            a.hours / option_hours[a.factory] for a in parts if a.factory != lost
        )
    total = sum(job.get("priority", 1) for job in data["jobs"])
    assert plan.fill * total >= surviving - 1e-6
