from __future__ import annotations

import pytest

from matching import explain, load_plan, load_problem, solve
from matching.reasons import NOT_HELD, REASONS, UNEXPLAINED
from tests.matching.problems import random_problem


def cap(period: str, hours: float) -> dict:
    return {"resource": "cnc", "period": period, "hours": hours}


PROBLEM = load_problem(
    {
        "version": 1,
        "periods": ["W1", "W2"],
        "factories": [
            {"id": "chosen", "credit": 0.9, "capacity": [cap("W1", 10), cap("W2", 10)]},
            {"id": "pricey", "capacity": [cap("W1", 50)]},
            {"id": "shaky", "credit": 0.3, "capacity": [cap("W1", 50)]},
            {"id": "far", "capacity": [cap("W1", 50), cap("W2", 50)]},
            {"id": "tiny", "capacity": [cap("W1", 2)]},
            {"id": "busy", "capacity": [cap("W1", 8)]},
        ],
        "jobs": [
            {
                "id": "j1",
                "resource": "cnc",
                "hours": 8,
                "release_period": "W1",
                "due_period": "W1",
                "min_credit": 0.5,
                "options": [
                    {"factory": "chosen", "cost": 100},
                    {"factory": "pricey", "cost": 130},
                    {"factory": "shaky", "cost": 50},
                    {"factory": "far", "cost": 40, "lead_periods": 1},
                    {"factory": "tiny", "cost": 10},
                    {"factory": "busy", "cost": 20},
                ],
            },
            # Takes all of "busy", and is worth more than j1 there.
            {
                "id": "j2",
                "resource": "cnc",
                "hours": 8,
                "priority": 3,
                "release_period": "W1",
                "due_period": "W1",
                "options": [{"factory": "busy", "cost": 90}],
            },
        ],
    }
)


@pytest.fixture(scope="module")
def explanation() -> dict:
    plan = solve(PROBLEM, time_limit_s=2)
    return explain(PROBLEM, plan, "j1")


def test_chosen_factory_with_cost_lead_time_and_credit(explanation: dict) -> None:
    [chosen] = explanation["chosen"]
    assert chosen["factory"] == "chosen"
    assert chosen["cost"] == 100 and chosen["lead_periods"] == 0 and chosen["credit"] == 0.9
    assert explanation["assigned_share"] == 1 and explanation["unassigned_hours"] == 0


def test_every_other_option_has_its_binding_reason(explanation: dict) -> None:
    reasons = {entry["factory"]: entry for entry in explanation["not_chosen"]}
    assert {f: e["reason"] for f, e in reasons.items()} == {
        "pricey": "more_expensive",
        "shaky": "credit_below_minimum",
        "far": "shipping_too_slow",
        "tiny": "no_capacity_in_window",
        "busy": "no_free_capacity_in_window",
    }
    assert reasons["pricey"]["extra_cost"] == 30
    assert "30.00" in reasons["pricey"]["detail"]
    assert "0.3" in reasons["shaky"]["detail"] and "0.5" in reasons["shaky"]["detail"]
    assert reasons["busy"]["free_hours"] == 0


def test_unassigned_job_and_unknown_job() -> None:
    problem = load_problem(
        {
            "version": 1,
            "factories": [{"id": "f", "capacity": [cap("P1", 5)]}],
            "jobs": [
                {
                    "id": "a",
                    "resource": "cnc",
                    "hours": 5,
                    "priority": 2,
                    "options": [{"factory": "f", "cost": 1}],
                },
                {
                    "id": "b",
                    "resource": "cnc",
                    "hours": 5,
                    "options": [{"factory": "f", "cost": 1}],
                },
            ],
        }
    )
    plan = solve(problem, time_limit_s=1)
    result = explain(problem, plan, "b")
    assert result["chosen"] == [] and result["unassigned_hours"] == 5
    assert result["not_chosen"][0]["reason"] == "no_free_capacity_in_window"
    with pytest.raises(KeyError):
        explain(problem, plan, "zzz")


def test_split_job_lists_each_factory_and_its_share() -> None:
    problem = load_problem(
        {
            "version": 1,
            "factories": [
                {"id": "cheap", "capacity": [cap("P1", 6)]},
                {"id": "dear", "capacity": [cap("P1", 20)]},
            ],
            "jobs": [
                {
                    "id": "s",
                    "resource": "cnc",
                    "hours": 10,
                    "splittable": True,
                    "options": [
                        {"factory": "cheap", "cost": 100},
                        {"factory": "dear", "cost": 200},
                    ],
                }
            ],
        }
    )
    plan = solve(problem, time_limit_s=1)
    result = explain(problem, plan, "s")
    shares = {c["factory"]: (c["hours"], c["share"], c["cost"]) for c in result["chosen"]}
    assert shares == {"cheap": pytest.approx((6, 0.6, 60)), "dear": pytest.approx((4, 0.4, 80))}
    assert result["not_chosen"] == []


def test_room_left_beside_a_partly_placed_job_is_not_called_too_expensive() -> None:
    # A plan that stopped short (as a search cut off by its time limit may): the split job
    # misses 4 h while "dear" has room. Fill comes before cost, so price is not the reason.
    problem = load_problem(
        {
            "version": 1,
            "factories": [
                {"id": "cheap", "capacity": [cap("P1", 6)]},
                {"id": "dear", "capacity": [cap("P1", 20)]},
            ],
            "jobs": [
                {
                    "id": "s",
                    "resource": "cnc",
                    "hours": 10,
                    "splittable": True,
                    "options": [
                        {"factory": "cheap", "cost": 100},
                        {"factory": "dear", "cost": 200},
                    ],
                }
            ],
        }
    )
    plan = load_plan(
        {
            "status": "FEASIBLE",
            "objective": 60.0,
            "bound": 60.0,
            "solve_s": 0.1,
            "assignments": [{"job": "s", "factory": "cheap", "period": "P1", "hours": 6}],
            "unassigned": [{"job": "s", "hours": 4}],
        }
    )
    [dear] = explain(problem, plan, "s")["not_chosen"]
    assert dear["reason"] == "not_used" and dear["free_hours"] == pytest.approx(20)


def test_a_lead_time_that_leaves_only_weeks_without_capacity_is_shipping_too_slow() -> None:
    # Every factory has room in the job's window W1..W2, but "late" only in W2: shipping
    # in one week means producing by W1, when it has none. "empty" has no room at all.
    problem = load_problem(
        {
            "version": 1,
            "periods": ["W1", "W2"],
            "factories": [
                {"id": "late", "capacity": [cap("W2", 50)]},
                {"id": "split_late", "capacity": [cap("W1", 1), cap("W2", 50)]},
                {"id": "empty", "capacity": [cap("W1", 1)]},
                {"id": "near", "capacity": [cap("W1", 20), cap("W2", 20)]},
            ],
            "jobs": [
                {
                    "id": "j",
                    "resource": "cnc",
                    "hours": 8,
                    "options": [
                        {"factory": "late", "cost": 1, "lead_periods": 1},
                        {"factory": "split_late", "cost": 1, "lead_periods": 1},
                        {"factory": "empty", "cost": 1},
                        {"factory": "near", "cost": 50},
                    ],
                }
            ],
        }
    )
    plan = solve(problem, time_limit_s=1)
    result = explain(problem, plan, "j")
    assert [c["factory"] for c in result["chosen"]] == ["near"]
    reasons = {e["factory"]: e for e in result["not_chosen"]}
    assert {f: e["reason"] for f, e in reasons.items()} == {
        "late": "shipping_too_slow",
        "split_late": "shipping_too_slow",  # 1 h by W1 cannot hold the 8 h job whole
        "empty": "no_capacity_in_window",
    }
    assert "1 period(s)" in reasons["late"]["detail"]
    assert "W1" in reasons["late"]["detail"] and "50 h" in reasons["late"]["detail"]


def test_a_splittable_job_is_shipping_too_slow_only_without_any_room_in_time() -> None:
    problem = load_problem(
        {
            "version": 1,
            "periods": ["W1", "W2"],
            "factories": [
                {"id": "late", "capacity": [cap("W2", 50)]},
                {"id": "some", "capacity": [cap("W1", 1), cap("W2", 50)]},
            ],
            "jobs": [
                {
                    "id": "s",
                    "resource": "cnc",
                    "hours": 8,
                    "splittable": True,
                    "options": [
                        {"factory": "late", "cost": 1, "lead_periods": 1},
                        {"factory": "some", "cost": 2, "lead_periods": 1},
                    ],
                }
            ],
        }
    )
    plan = solve(problem, time_limit_s=1)
    result = explain(problem, plan, "s")
    assert [(c["factory"], c["hours"]) for c in result["chosen"]] == [("some", 1)]
    [late] = result["not_chosen"]
    assert late["factory"] == "late" and late["reason"] == "shipping_too_slow"


def test_every_reason_given_is_one_of_the_listed_codes() -> None:
    data = random_problem(seed=7, factories=5, jobs=25, periods=4)
    problem = load_problem(data)
    plan = solve(problem, time_limit_s=0.5, workers=1)
    given = {
        entry["reason"]
        for job in problem.jobs
        for part in ("chosen", "not_chosen")
        for entry in explain(problem, plan, job.id)[part]
    }
    assert given and given <= set(REASONS) - {NOT_HELD, UNEXPLAINED}
    assert len(set(REASONS)) == len(REASONS)
