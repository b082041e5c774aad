"""The directed LNS neighbourhoods (around the costliest placements, toward the LP
solution, around jobs not placed whole): what they free, and searches made of them."""

from __future__ import annotations

import json
import random

import pytest

from matching import lexicographic, load_problem, solve
from matching.bound import lp_solution
from matching.heuristic import greedy
from matching.instance import compile_problem
from matching.solver import Search, clock, lns
from matching.solver.directed import (
    LpGuide,
    costly_neighbourhood,
    regret,
    relink_neighbourhood,
    short_neighbourhood,
)
from matching.solver.groups import groups_of
from matching.solver.incumbent import Incumbent
from tests.matching.feasibility import check_plan
from tests.matching.problems import random_problem

LEVELS = ["fill", "cost"]


def _setting(seed: int = 11) -> tuple[dict, Incumbent, LpGuide]:
    data = random_problem(seed=seed, factories=30, jobs=300, periods=3)
    # Half the jobs splittable, so the neighbourhoods meet jobs spread over factories.
    for index, job in enumerate(data["jobs"]):
        job["splittable"] = index % 2 == 0
    instance = compile_problem(load_problem(data))
    allocation = greedy(instance)
    groups = groups_of(instance, 0, with_chains=False)
    incumbent = Incumbent(instance, allocation, groups, LEVELS, None)
    _, fractions = lp_solution(instance)
    return data, incumbent, LpGuide(instance, fractions)


def _placed(incumbent: Incumbent, j: int) -> set[int]:
    choices = incumbent.instance.jobs[j].choices
    return {choices[c].factory for c, _, _ in incumbent.allocation[j]}


@pytest.mark.parametrize("kind", ["costly", "relink", "short"])
def test_a_directed_neighbourhood_frees_whole_jobs_on_factories_it_holds(kind: str) -> None:
    _, incumbent, guide = _setting()
    instance = incumbent.instance
    group = max(groups_of(instance, 0, with_chains=False), key=lambda g: len(g.jobs))
    group.neighbourhood = 30
    # A concurrent move holds some factories and jobs: they must stay out.
    busy_factories = set(group.factories[::4])
    busy_jobs = set(group.jobs[::7])
    incumbent.reserved_factories.update(busy_factories)
    incumbent.reserved_jobs.update(busy_jobs)
    rng = random.Random(3)
    moves = 0
    for _ in range(20):
        if kind == "costly":
            jobs, factories = costly_neighbourhood(incumbent, group, rng)
        elif kind == "relink":
            jobs, factories = relink_neighbourhood(incumbent, group, guide, rng)
        else:
            jobs, factories = short_neighbourhood(incumbent, group, guide, rng)
        if not jobs:
            continue
        moves += 1
        assert factories is not None and not factories & busy_factories
        assert set(jobs) <= set(group.jobs) and not set(jobs) & busy_jobs
        assert len(jobs) == len(set(jobs))
        for j in jobs:
            # Every freed job is placed only on the move's factories, so the move can
            # put it back where it was: the incumbent stays within reach.
            assert _placed(incumbent, j) <= factories
            assert instance.jobs[j].choices
    assert moves > 0


def test_regret_is_zero_only_at_the_cheapest_choice() -> None:
    _, incumbent, _ = _setting()
    instance = incumbent.instance
    for j, placement in enumerate(incumbent.allocation):
        info = instance.jobs[j]
        value = regret(instance, j, placement)
        assert value >= 0
        if placement:
            cheapest = min(c.cost_units for c in info.choices)
            at_cheapest = all(info.choices[c].cost_units == cheapest for c, _, _ in placement)
            assert (value == 0) == at_cheapest


def test_the_lp_guide_sees_where_a_plan_leaves_the_lp_solution() -> None:
    _, incumbent, guide = _setting()
    instance = incumbent.instance
    for j, info in enumerate(instance.jobs):
        shares = guide.shares[j]
        assert sum(shares.values()) <= 1 + 1e-6
        if not shares:
            continue
        # The LP's own largest share, placed whole, differs only if the LP split it.
        c = max(shares, key=lambda c: shares[c])
        choice = info.choices[c]
        whole = ((c, 0, choice.full),)
        assert guide.differs(j, whole) == (shares[c] < 0.99)
        assert guide.factories(j)[0] == choice.factory


def _only_directed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every LNS move directed: a third each around short, costly and LP-relinked jobs."""
    monkeypatch.setattr(lns, "SHORT_SHARE", 1 / 3)
    monkeypatch.setattr(lns, "COSTLY_SHARE", 1 / 3)
    monkeypatch.setattr(lns, "RELINK_SHARE", 1 / 3 + 1e-9)


def test_directed_moves_keep_plans_feasible_and_never_worse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only_directed(monkeypatch)
    data, incumbent, _ = _setting(seed=12)
    instance = incumbent.instance
    _, fractions = lp_solution(instance)
    search = Search(
        instance,
        greedy(instance),
        levels=LEVELS,
        kept_amounts=None,
        time_limit_s=3,
        workers=1,
        seed=5,
        on_progress=None,
        lp_fractions=fractions,
    )
    before = instance.score(search.incumbent.allocation)
    rng = random.Random(5)
    for _ in range(40):
        group = max(search.groups, key=lambda g: len(g.jobs))
        with search.incumbent.lock:
            move = search.lns.prepare(group, rng)
        if move is None:
            continue
        previous = instance.score(search.incumbent.allocation)
        search.lns.run(move, rng)
        fill, cost = instance.score(search.incumbent.allocation)
        assert (fill, -cost) >= (previous[0], -previous[1])
        instance.check(search.incumbent.allocation)
    assert sum(search.lns.moves[k] for k in ("short", "costly", "relink")) > 0
    assert sum(search.lns.improvements.values()) > 0
    after = instance.score(search.incumbent.allocation)
    assert (after[0], -after[1]) > (before[0], -before[1])
    plan = search.plan()
    check_plan(data, json.loads(plan.to_json()))  # fractions of each job add up to one


def test_directed_searches_with_one_worker_are_reproducible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only_directed(monkeypatch)
    # A reproducible search stops early only when the machine is far slower than its
    # clock's pace; on a busy test machine that must not decide the plan here.
    monkeypatch.setattr(clock, "WALL_SAFETY_FACTOR", 100)
    monkeypatch.setattr(lexicographic, "WALL_SAFETY_FACTOR", 100)
    data = random_problem(seed=6, factories=40, jobs=400, periods=3)
    for index, job in enumerate(data["jobs"]):
        job["splittable"] = index % 3 == 0
    problem = load_problem(data)
    first = solve(problem, time_limit_s=1.5, workers=1, seed=9)
    second = solve(problem, time_limit_s=1.5, workers=1, seed=9)
    check_plan(data, json.loads(first.to_json()))
    assert first.assignments == second.assignments
    assert first.unassigned == second.unassigned
    assert (first.objective, first.status) == (second.objective, second.status)


def test_directed_searches_with_two_workers_give_feasible_plans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only_directed(monkeypatch)
    data = random_problem(seed=8, factories=40, jobs=400, periods=3)
    for index, job in enumerate(data["jobs"]):
        job["splittable"] = index % 2 == 1
    plan = solve(load_problem(data), time_limit_s=2, workers=2, seed=1)
    check_plan(data, json.loads(plan.to_json()))
