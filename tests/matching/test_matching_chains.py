"""Ejection chains (matching/chains.py) and their use by the solver."""

from __future__ import annotations

import itertools
import json
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import load_problem, solve
from matching.chains import ChainSearch
from matching.heuristic import greedy
from matching.instance import Allocation, Instance, compile_problem
from matching.objective import COST, FILL, KEEP
from matching.solver import Search
from tests.matching.feasibility import check_plan
from tests.matching.problems import crowded_problems, random_problem


def gap_problem(cost: list[list[int]], hours: list[list[int]], capacity: list[int]) -> dict:
    """A generalized assignment instance (agents x jobs) as a one-period problem."""
    return {
        "version": 1,
        "periods": ["P1"],
        "factories": [
            {"id": f"a{i}", "capacity": [{"resource": "r", "period": "P1", "hours": cap}]}
            for i, cap in enumerate(capacity)
        ],
        "jobs": [
            {
                "id": f"j{j}",
                "resource": "r",
                "hours": min(row[j] for row in hours),
                "options": [
                    {"factory": f"a{i}", "hours": hours[i][j], "cost": cost[i][j]}
                    for i in range(len(capacity))
                ],
            }
            for j in range(len(cost[0]))
        ],
    }


def random_gap(seed: int, agents: int, jobs: int) -> tuple[list, list, list]:
    """Tight instances in the style of the literature's type D: big jobs are cheap."""
    rng = random.Random(seed)
    hours = [[rng.randint(1, 100) for _ in range(jobs)] for _ in range(agents)]
    cost = [[111 - hours[i][j] + rng.randint(-10, 10) for j in range(jobs)] for i in range(agents)]
    capacity = [int(0.8 * sum(row) / agents) for row in hours]
    return cost, hours, capacity


def brute_force_cost(cost: list, hours: list, capacity: list) -> int | None:
    agents, jobs = len(cost), len(cost[0])
    best = None
    for agent_of in itertools.product(range(agents), repeat=jobs):
        load = [0] * agents
        for j, i in enumerate(agent_of):
            load[i] += hours[i][j]
        if all(load[i] <= capacity[i] for i in range(agents)):
            total = sum(cost[i][j] for j, i in enumerate(agent_of))
            best = total if best is None else min(best, total)
    return best


def with_placements(allocation: Allocation, chains: ChainSearch) -> Allocation:
    candidate = list(allocation)
    for j, placement in chains.placements().items():
        candidate[j] = placement
    return candidate


def all_jobs(instance: Instance) -> list[int]:
    return [info.index for info in instance.jobs if info.choices]


def whole_placement(instance: Instance, j: int, factory: int) -> tuple:
    """Job j whole at `factory` in the first period (one-period problems)."""
    for c, choice in enumerate(instance.jobs[j].choices):
        if choice.factory == factory:
            return ((c, 0, choice.full),)
    raise AssertionError(f"job {j} has no option at factory {factory}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowded_problems(), st.integers(0, 1000))
def test_chains_keep_every_plan_feasible_and_never_dearer(data: dict, seed: int) -> None:
    instance = compile_problem(load_problem(data))
    start = greedy(instance)
    chains = ChainSearch(instance, all_jobs(instance), seed)
    if not chains.usable or not chains.load(start, instance.usage(start)):
        return
    fill, cost = instance.score(start)
    for _ in range(15):
        chains.step()
        candidate = with_placements(start, chains)
        instance.check(candidate)
        new_fill, new_cost = instance.score(candidate)
        assert new_fill == fill and new_cost <= cost
    plan = instance.plan(candidate, status="FEASIBLE", bound=None, solve_s=0)
    check_plan(data, json.loads(plan.to_json()))


def test_a_cyclic_exchange_no_shift_or_swap_finds() -> None:
    # Three full agents; each job is cheaper at the next agent, dearer at the one before,
    # so only moving all three at once (a -> B, b -> C, c -> A) pays.
    cost = [
        [50, 1, 100],  # agent A: job a, b, c
        [100, 50, 1],  # agent B
        [1, 100, 50],
    ]  # agent C
    hours = [[10, 10, 10]] * 3
    instance = compile_problem(load_problem(gap_problem(cost, hours, [10, 10, 10])))
    start: Allocation = [whole_placement(instance, j, j) for j in range(3)]
    chains = ChainSearch(instance, all_jobs(instance), seed=0)
    assert chains.usable and chains.load(start, instance.usage(start))
    chains.step()
    candidate = with_placements(start, chains)
    instance.check(candidate)
    assert instance.cost_value(instance.score(candidate)[1]) == 3
    assert [instance.jobs[j].choices[candidate[j][0][0]].factory for j in range(3)] == [2, 0, 1]


def test_chains_reach_the_optimum_of_small_tight_instances() -> None:
    for seed in range(4):
        cost, hours, capacity = random_gap(seed, agents=3, jobs=9)
        optimum = brute_force_cost(cost, hours, capacity)
        assert optimum is not None
        instance = compile_problem(load_problem(gap_problem(cost, hours, capacity)))
        start = greedy(instance)
        if not all(start):  # greedy left a job out: start from the optimum's fill instead
            continue
        chains = ChainSearch(instance, all_jobs(instance), seed)
        assert chains.load(start, instance.usage(start))
        for _ in range(300):
            chains.step()
        candidate = with_placements(start, chains)
        instance.check(candidate)
        assert instance.cost_value(instance.score(candidate)[1]) == optimum


def test_a_descent_cut_into_slices_ends_where_a_whole_one_does() -> None:
    cost, hours, capacity = random_gap(11, agents=6, jobs=40)
    instance = compile_problem(load_problem(gap_problem(cost, hours, capacity)))
    start = greedy(instance)
    whole = ChainSearch(instance, all_jobs(instance), seed=3)
    sliced = ChainSearch(instance, all_jobs(instance), seed=3)
    assert whole.load(start, instance.usage(start))
    assert sliced.load(start, instance.usage(start))
    for _ in range(20):
        whole.step()
        while True:
            sliced.step(work_limit=1)
            if sliced.trial is None:
                break
    assert sliced.best_cost == whole.best_cost
    assert with_placements(start, sliced) == with_placements(start, whole)


def test_chains_are_never_used_when_rematching() -> None:
    instance = compile_problem(load_problem(gap_problem(*random_gap(5, agents=4, jobs=30))))
    allocation = greedy(instance)

    def search(levels: list[str]) -> Search:
        return Search(
            instance,
            list(allocation),
            levels=levels,
            kept_amounts={},
            time_limit_s=1,
            workers=1,
            seed=0,
            on_progress=None,
        )

    assert any(g.chains is not None for g in search([FILL, COST]).groups)
    assert all(g.chains is None for g in search([FILL, KEEP, COST]).groups)


def test_a_group_whose_chains_cannot_start_is_not_offered_them_again() -> None:
    # Only two jobs can sit whole in one capacity bucket: too few for a chain.
    data = {
        "version": 1,
        "periods": ["W1", "W2"],
        "factories": [
            {
                "id": "span",
                "capacity": [{"resource": "r", "period": p, "hours": 4} for p in ("W1", "W2")],
            },
            {"id": "g", "capacity": [{"resource": "r", "period": "W1", "hours": 8}]},
            {"id": "h", "capacity": [{"resource": "r", "period": "W1", "hours": 8}]},
        ],
        "jobs": [
            {
                "id": f"j{j}",
                "resource": "r",
                "hours": 8,
                "options": [
                    {"factory": "span", "cost": 1},
                    {"factory": "g", "cost": 50 + j},
                    {"factory": "h", "cost": 60 - j},
                ],
            }
            for j in range(3)
        ],
    }
    instance = compile_problem(load_problem(data))
    search = Search(
        instance,
        greedy(instance),
        levels=[FILL, COST],
        kept_amounts=None,
        time_limit_s=1,
        workers=1,
        seed=0,
        on_progress=None,
    )
    (group,) = search.groups
    assert group.chains is not None
    search.chain_turns.burst(group, 1.0)
    assert group.chains_idle_at == group.version and not group.chains_busy


def test_gap_plans_are_reproducible_and_no_worse_than_greedy() -> None:
    data = gap_problem(*random_gap(7, agents=8, jobs=80))
    problem = load_problem(data)
    first = solve(problem, time_limit_s=1.5, workers=1, seed=4)
    second = solve(problem, time_limit_s=1.5, workers=1, seed=4)
    assert first.assignments == second.assignments and first.objective == second.objective
    check_plan(data, json.loads(first.to_json()))
    instance = compile_problem(problem)
    greedy_plan = instance.plan(greedy(instance), status="FEASIBLE", bound=None, solve_s=0)
    assert (first.fill, -first.objective) >= (greedy_plan.fill, -greedy_plan.objective)


@pytest.mark.parametrize(
    "data",
    [
        gap_problem(*random_gap(8, agents=10, jobs=100)),
        random_problem(seed=9, factories=30, jobs=300, periods=3),
    ],
    ids=["gap", "weeks"],
)
def test_chains_beside_concurrent_moves_keep_plans_feasible_and_on_time(data: dict) -> None:
    started = time.perf_counter()
    plan = solve(load_problem(data), time_limit_s=1.5, workers=2, seed=1)
    assert time.perf_counter() - started < 2 * 1.5
    check_plan(data, json.loads(plan.to_json()))


def test_chains_on_a_tiny_group_charge_the_reproducible_clock_what_they_cost() -> None:
    # Three movable jobs: each chain step touches a handful of matrix entries, yet costs
    # Python's overhead. Counted by entries alone, the first burst ran until the wall
    # clock stopped the search, before CP-SAT could prove the plan optimal.
    data = {
        "version": 1,
        "periods": ["W0"],
        "factories": [
            {
                "id": "f0",
                "capacity": [
                    {"resource": "milling", "period": "W0", "hours": 20},
                    {"resource": "welding", "period": "W0", "hours": 4.5},
                ],
            },
            {"id": "f1", "capacity": [{"resource": "welding", "period": "W0", "hours": 20}]},
        ],
        "jobs": [
            {
                "id": "j0",
                "resource": "welding",
                "hours": 12.5,
                "priority": 2,
                "options": [{"factory": "f1", "cost": 55, "hours": 3}],
            },
            {
                "id": "j2",
                "resource": "welding",
                "hours": 10,
                "priority": 2,
                "options": [{"factory": "f1", "cost": 20}],
            },
            {
                "id": "j4",
                "resource": "welding",
                "hours": 4,
                "priority": 2,
                "options": [
                    {"factory": "f0", "cost": 55, "hours": 2.5},
                    {"factory": "f1", "cost": 70},
                ],
            },
        ],
    }
    started = time.perf_counter()
    plan = solve(load_problem(data), time_limit_s=5, workers=1)
    assert time.perf_counter() - started < 5
    assert plan.status == "OPTIMAL" and plan.objective == 130 and not plan.unassigned
