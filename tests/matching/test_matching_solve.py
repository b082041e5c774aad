from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from ortools.linear_solver import pywraplp

from matching import Plan, load_plan, load_problem, solve
from matching.heuristic import greedy
from matching.instance import compile_problem
from matching.solver import Search
from tests.matching.feasibility import check_plan
from tests.matching.problems import numbers_are_short, problems, random_problem

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plan_data(plan: Plan) -> dict:
    return json.loads(plan.to_json())


@PROPERTY
@given(problems())
def test_every_plan_is_feasible(data: dict) -> None:
    plan = solve(load_problem(data), time_limit_s=1, workers=1)
    placed, _ = check_plan(data, plan_data(plan))
    total = sum(job["priority"] for job in data["jobs"])
    assert plan.fill == pytest.approx(placed / total, abs=1e-9)


@PROPERTY
@given(problems())
def test_every_greedy_plan_is_feasible(data: dict) -> None:
    instance = compile_problem(load_problem(data))
    plan = instance.plan(greedy(instance), status="FEASIBLE", bound=None, solve_s=0)
    check_plan(data, plan_data(plan))


def brute_force(data: dict) -> tuple[float, float]:
    """Best (weighted work placed, -cost) over every way of placing whole jobs, for
    one-period problems: each job unassigned or at one of its options."""
    factories = {f["id"]: f for f in data["factories"]}
    capacity = {
        (f["id"], c["resource"]): c["hours"] for f in data["factories"] for c in f["capacity"]
    }
    per_job = []
    for job in data["jobs"]:
        allowed = [None] + [
            o
            for o in job["options"]
            if factories[o["factory"]].get("credit", 1) >= job.get("min_credit", 0)
            and o.get("lead_periods", 0) == 0
        ]
        per_job.append(allowed)
    best = (0.0, 0.0)
    for combination in itertools.product(*per_job):
        load: dict[tuple[str, str], float] = {}
        placed = cost = 0.0
        for job, option in zip(data["jobs"], combination, strict=True):
            if option is None:
                continue
            key = (option["factory"], job["resource"])
            load[key] = load.get(key, 0.0) + option.get("hours", job["hours"])
            placed += job["priority"]
            cost += option["cost"]
        if all(hours <= capacity.get(key, 0.0) + 1e-9 for key, hours in load.items()):
            best = max(best, (placed, -cost))
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_periods=1, max_factories=3, max_jobs=5, splittable=False))
def test_optimal_on_tiny_instances(data: dict) -> None:
    plan = solve(load_problem(data), time_limit_s=5, workers=1)
    placed, cost = check_plan(data, plan_data(plan))
    best_placed, best_cost = brute_force(data)
    assert (placed, -cost) <= (best_placed + 1e-9, best_cost + 1e-6)
    if numbers_are_short(data):
        # Scaled without rounding: the engine must find and prove the optimum.
        assert plan.status == "OPTIMAL"
    if plan.status == "OPTIMAL":
        # A claim of optimality is a claim about the problem as written, never about a
        # rounded copy of it.
        assert placed == pytest.approx(best_placed, abs=1e-9)
        assert cost == pytest.approx(-best_cost, abs=1e-6)
        assert plan.bound == pytest.approx(cost, abs=1e-4)
    if plan.bound is not None:
        assert plan.bound <= -best_cost + 1e-6 or placed < best_placed - 1e-9


def exact_split_optimum(data: dict) -> tuple[float, float]:
    """When every job may be split the problem is a linear program: solve it exactly
    (max weighted fill, then min cost at that fill)."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    periods = data["periods"]
    factories = {f["id"]: f for f in data["factories"]}
    capacity = {
        (f["id"], c["resource"], c["period"]): c["hours"]
        for f in data["factories"]
        for c in f["capacity"]
    }
    fill_terms, cost_terms, rows = [], [], {}
    for job in data["jobs"]:
        fractions = []
        release, due = periods.index(job["release_period"]), periods.index(job["due_period"])
        for o in job["options"]:
            if factories[o["factory"]].get("credit", 1) < job.get("min_credit", 0):
                continue
            for t in range(release, due - o.get("lead_periods", 0) + 1):
                key = (o["factory"], job["resource"], periods[t])
                if capacity.get(key, 0) <= 0:
                    continue
                x = solver.NumVar(0, 1, "")
                fractions.append(x)
                fill_terms.append((x, job["priority"]))
                cost_terms.append((x, o["cost"]))
                rows.setdefault(key, []).append((x, o.get("hours", job["hours"])))
        if fractions:
            solver.Add(sum(fractions) <= 1)
    for key, terms in rows.items():
        solver.Add(sum(h * x for x, h in terms) <= capacity[key])
    fill = sum(p * x for x, p in fill_terms)
    solver.Maximize(fill)
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    best_fill = solver.Objective().Value()
    solver.Add(fill >= best_fill - 1e-7)
    solver.Minimize(sum(c * x for x, c in cost_terms))
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    return best_fill, solver.Objective().Value()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_jobs=5, splittable=True))
def test_splittable_jobs_near_the_exact_optimum(data: dict) -> None:
    plan = solve(load_problem(data), time_limit_s=5, workers=1)
    placed, cost = check_plan(data, plan_data(plan))
    best_fill, best_cost = exact_split_optimum(data)
    total = sum(job["priority"] for job in data["jobs"])
    # Splittable jobs move in steps of 0.1% of the job; allow that rounding.
    assert placed >= best_fill - 0.002 * total * len(data["periods"]) * len(data["factories"])
    if placed >= best_fill - 1e-6:
        assert cost <= best_cost * 1.002 + 1e-6


def test_a_non_splittable_job_may_span_periods_of_one_factory() -> None:
    data = {
        "version": 1,
        "periods": ["W1", "W2", "W3"],
        "factories": [
            {
                "id": "f1",
                "capacity": [
                    {"resource": "r", "period": p, "hours": 4} for p in ("W1", "W2", "W3")
                ],
            },
            {"id": "f2", "capacity": [{"resource": "r", "period": "W1", "hours": 10}]},
        ],
        "jobs": [
            {
                "id": "j1",
                "resource": "r",
                "hours": 10,
                "options": [
                    {"factory": "f1", "cost": 10},
                    {"factory": "f2", "cost": 5, "hours": 11},
                ],
            }
        ],
    }
    plan = solve(load_problem(data), time_limit_s=2)
    check_plan(data, plan_data(plan))
    assert {a.factory for a in plan.assignments} == {"f1"}
    assert sum(a.hours for a in plan.assignments) == 10
    assert plan.status == "OPTIMAL" and plan.objective == 10


def test_lead_time_and_min_credit_are_respected() -> None:
    data = {
        "version": 1,
        "periods": ["W1", "W2"],
        "factories": [
            {
                "id": "cheap_far",
                "capacity": [
                    {"resource": "r", "period": "W1", "hours": 50},
                    {"resource": "r", "period": "W2", "hours": 50},
                ],
            },
            {
                "id": "cheap_risky",
                "credit": 0.4,
                "capacity": [{"resource": "r", "period": "W2", "hours": 50}],
            },
            {"id": "dear", "capacity": [{"resource": "r", "period": "W2", "hours": 50}]},
        ],
        "jobs": [
            {
                "id": "j1",
                "resource": "r",
                "hours": 5,
                "release_period": "W2",
                "min_credit": 0.5,
                "options": [
                    {"factory": "cheap_far", "cost": 1, "lead_periods": 1},
                    {"factory": "cheap_risky", "cost": 1},
                    {"factory": "dear", "cost": 9},
                ],
            }
        ],
    }
    plan = solve(load_problem(data), time_limit_s=2)
    check_plan(data, plan_data(plan))
    assert [(a.factory, a.period) for a in plan.assignments] == [("dear", "W2")]


def test_fill_comes_before_cost() -> None:
    # Putting the small job on the cheap factory would leave no room for the big one.
    data = {
        "version": 1,
        "factories": [
            {"id": "small", "capacity": [{"resource": "r", "period": "P1", "hours": 5}]},
            {"id": "big", "capacity": [{"resource": "r", "period": "P1", "hours": 10}]},
        ],
        "jobs": [
            {
                "id": "little",
                "resource": "r",
                "hours": 5,
                "options": [{"factory": "small", "cost": 100}, {"factory": "big", "cost": 1}],
            },
            {
                "id": "large",
                "resource": "r",
                "hours": 10,
                "options": [{"factory": "big", "cost": 100}],
            },
        ],
    }
    plan = solve(load_problem(data), time_limit_s=2)
    assert not plan.unassigned and plan.objective == 200
    assert plan.fill == 1.0


def test_jobs_without_a_usable_option_are_reported_unassigned() -> None:
    data = {
        "version": 1,
        "factories": [{"id": "f1", "credit": 0.2, "capacity": []}],
        "jobs": [
            {"id": "no_options", "resource": "r", "hours": 3},
            {
                "id": "no_room",
                "resource": "r",
                "hours": 4,
                "options": [{"factory": "f1", "cost": 1}],
            },
        ],
    }
    plan = solve(load_problem(data), time_limit_s=1)
    check_plan(data, plan_data(plan))
    assert sorted((u.job, u.hours) for u in plan.unassigned) == [("no_options", 3), ("no_room", 4)]
    assert plan.assignments == () and plan.fill == 0 and plan.objective == 0


def test_same_seed_and_one_worker_give_the_same_plan() -> None:
    # Big enough that the search runs LNS moves rather than proving optimality.
    problem = load_problem(random_problem(seed=5, factories=40, jobs=400, periods=3))
    first = solve(problem, time_limit_s=1.5, workers=1, seed=7)
    second = solve(problem, time_limit_s=1.5, workers=1, seed=7)
    assert first.assignments == second.assignments
    assert first.unassigned == second.unassigned
    assert (first.objective, first.status) == (second.objective, second.status)


def test_progress_is_reported_and_improves() -> None:
    data = random_problem(seed=2, factories=15, jobs=80, periods=3)
    events: list[dict] = []
    plan = solve(load_problem(data), time_limit_s=2, on_progress=events.append)
    check_plan(data, plan_data(plan))
    complete = [e for e in events if e["fill"] is not None and e["cost"] is not None]
    assert complete and set(complete[0]) == {"fill", "cost", "bound", "elapsed_s"}
    scores = [(e["fill"], -e["cost"]) for e in complete]
    assert scores == sorted(scores)
    assert scores[-1][0] == pytest.approx(plan.fill)


def test_without_time_to_search_the_greedy_plan_comes_back() -> None:
    data = random_problem(seed=3, factories=20, jobs=120, periods=3)
    plan = solve(load_problem(data), time_limit_s=0.001)
    check_plan(data, plan_data(plan))
    assert plan.status == "FEASIBLE" and plan.assignments


def test_a_hint_is_a_starting_point_never_a_constraint() -> None:
    data = random_problem(seed=4, factories=12, jobs=60, periods=2)
    problem = load_problem(data)
    quick = solve(problem, time_limit_s=0.001)
    hinted = solve(problem, time_limit_s=2, hint=quick)
    check_plan(data, plan_data(hinted))
    assert (hinted.fill, -hinted.objective) >= (quick.fill - 1e-12, -quick.objective - 1e-6)


def test_plan_json_has_the_contract_shape_and_round_trips() -> None:
    data = random_problem(seed=6, factories=5, jobs=10, periods=2)
    plan = solve(load_problem(data), time_limit_s=1)
    dumped = plan_data(plan)
    # The contract's six keys, in its order, then `fill`: the one extension, which the
    # marketplace reads (see matching.problem.Plan).
    assert list(dumped) == [
        "status",
        "objective",
        "bound",
        "assignments",
        "unassigned",
        "solve_s",
        "fill",
    ]
    assert plan.model_dump(mode="json") == dumped
    assert all(set(a) == {"job", "factory", "period", "hours"} for a in dumped["assignments"])
    assert all(set(u) == {"job", "hours"} for u in dumped["unassigned"])
    assert load_plan(plan.to_json()) == plan


def test_plans_load_with_or_without_fill() -> None:
    contract_only = {
        "status": "FEASIBLE",
        "objective": 3.0,
        "bound": None,
        "solve_s": 0.2,
        "assignments": [{"job": "j", "factory": "f", "period": "P1", "hours": 2}],
        "unassigned": [],
    }
    plan = load_plan(json.dumps(contract_only))
    assert plan.fill is None and plan.assignments[0].hours == 2
    stored = {**contract_only, "fill": 1.0, "note": "keys a later version may add"}
    assert load_plan(stored).fill == 1.0
    assert load_plan(stored).model_copy(update={"fill": None}) == plan


def one_bucket(hours: float) -> list[dict]:
    return [{"resource": "r", "period": "P1", "hours": hours}]


@pytest.mark.parametrize("order", [(10.001, 10.004), (10.004, 10.001)])
def test_costs_with_more_than_cents_are_told_apart(order: tuple[float, float]) -> None:
    data = {
        "version": 1,
        "factories": [
            {"id": "a", "capacity": one_bucket(10)},
            {"id": "b", "capacity": one_bucket(10)},
        ],
        "jobs": [
            {
                "id": "j",
                "resource": "r",
                "hours": 1,
                "options": [{"factory": "a", "cost": order[0]}, {"factory": "b", "cost": order[1]}],
            }
        ],
    }
    plan = solve(load_problem(data), time_limit_s=2, workers=1)
    check_plan(data, plan_data(plan))
    assert plan.objective == 10.001 and plan.status == "OPTIMAL" and plan.bound == 10.001


def test_hours_with_more_than_three_decimals_fit_exactly() -> None:
    # 3 x 0.3333 h = 0.9999 h fit into 1 h; rounded up to thousandths they would not.
    data = {
        "version": 1,
        "factories": [{"id": "f", "capacity": one_bucket(1)}],
        "jobs": [
            {
                "id": f"j{k}",
                "resource": "r",
                "hours": 0.3333,
                "options": [{"factory": "f", "cost": 1}],
            }
            for k in range(3)
        ],
    }
    plan = solve(load_problem(data), time_limit_s=2, workers=1)
    check_plan(data, plan_data(plan))
    assert plan.fill == 1 and not plan.unassigned and plan.status == "OPTIMAL"


def test_numbers_that_must_be_rounded_are_never_called_optimal() -> None:
    # Three thirds of an hour fill the hour, but a third has no exact decimal scale: the
    # engine rounds each job up (never over-filling), places two, and may not claim that
    # this is the optimum.
    third = {
        "version": 1,
        "factories": [{"id": "f", "capacity": one_bucket(1)}],
        "jobs": [
            {
                "id": f"j{k}",
                "resource": "r",
                "hours": 1 / 3,
                "options": [{"factory": "f", "cost": 1}],
            }
            for k in range(3)
        ],
    }
    # Costs a ten-millionth apart round to the same unit: the dearer may be chosen.
    close = {
        "version": 1,
        "factories": [
            {"id": "a", "capacity": one_bucket(10)},
            {"id": "b", "capacity": one_bucket(10)},
        ],
        "jobs": [
            {
                "id": "j",
                "resource": "r",
                "hours": 1,
                "options": [
                    {"factory": "a", "cost": 10.0000004},
                    {"factory": "b", "cost": 10.0000001},
                ],
            }
        ],
    }
    for data in (third, close):
        plan = solve(load_problem(data), time_limit_s=2, workers=1)
        _, cost = check_plan(data, plan_data(plan))
        assert plan.status == "FEASIBLE"
        assert plan.bound is None or plan.bound <= cost
    assert compile_problem(load_problem(third)).exact is False


def test_rounding_that_drops_a_usable_option_gives_no_bound() -> None:
    # The job fits its factory exactly, but rounded (job up, capacity down) it does not:
    # the LP over the instance's choices would miss a plan, so it bounds nothing.
    data = {
        "version": 1,
        "factories": [{"id": "f", "capacity": one_bucket(1 / 3)}],
        "jobs": [
            {"id": "j", "resource": "r", "hours": 1 / 3, "options": [{"factory": "f", "cost": 5}]}
        ],
    }
    assert compile_problem(load_problem(data)).complete is False
    plan = solve(load_problem(data), time_limit_s=1, workers=1)
    check_plan(data, plan_data(plan))
    assert plan.status == "FEASIBLE" and plan.bound is None


def test_an_infeasible_search_result_falls_back_to_the_constructive_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One bucket of 10 h, three jobs of 6 h: any plan holds one of them. A search that
    # ends on all three (a bug) must not hand that plan out, nor fail the request.
    data = {
        "version": 1,
        "factories": [{"id": "f", "capacity": one_bucket(10)}],
        "jobs": [
            {
                "id": f"j{k}",
                "resource": "r",
                "hours": 6,
                "options": [{"factory": "f", "cost": 1 + k}],
            }
            for k in range(3)
        ],
    }
    problem = load_problem(data)
    instance = compile_problem(problem)
    expected = instance.plan(greedy(instance), status="FEASIBLE", bound=None, solve_s=0)

    def overfill(search: Search) -> None:
        for j, info in enumerate(search.instance.jobs):
            search.incumbent.allocation[j] = ((0, 0, info.choices[0].full),)

    monkeypatch.setattr(Search, "optimize", overfill)
    plan = solve(problem, time_limit_s=1, workers=1)
    check_plan(data, plan_data(plan))
    assert plan.assignments == expected.assignments and plan.unassigned == expected.unassigned
    assert plan.status == "FEASIBLE"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_plans_found_by_two_workers_are_feasible(data: dict) -> None:
    plan = solve(load_problem(data), time_limit_s=0.5, workers=2)
    check_plan(data, plan_data(plan))


def test_the_checker_rejects_a_non_splittable_job_placed_in_part() -> None:
    # The contract: "false: all of the job's hours go to one factory". The engine places
    # such a job whole or not at all, and the checker holds every plan to that.
    data = {
        "version": 1,
        "periods": ["W1", "W2"],
        "factories": [
            {
                "id": "f",
                "capacity": [{"resource": "r", "period": p, "hours": 4} for p in ("W1", "W2")],
            }
        ],
        "jobs": [
            {"id": "j", "resource": "r", "hours": 6, "options": [{"factory": "f", "cost": 12}]}
        ],
    }
    whole = {
        "status": "OPTIMAL",
        "objective": 12.0,
        "bound": 12.0,
        "solve_s": 0.0,
        "assignments": [
            {"job": "j", "factory": "f", "period": "W1", "hours": 4},
            {"job": "j", "factory": "f", "period": "W2", "hours": 2},
        ],
        "unassigned": [],
    }
    check_plan(data, whole)
    partial = {
        **whole,
        "objective": 8.0,
        "bound": None,
        "assignments": whole["assignments"][:1],
        "unassigned": [{"job": "j", "hours": 2}],
    }
    with pytest.raises(AssertionError, match="of its 6 h placed at f"):
        check_plan(data, partial)
    plan = solve(load_problem(data), time_limit_s=1, workers=1)
    assert check_plan(data, plan_data(plan)) == (1, 12)
