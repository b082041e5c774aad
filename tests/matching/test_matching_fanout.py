"""Solving a problem in parts (matching.fanout): independent groups solved apart and
merged give a feasible plan placing as much as solving whole; big groups cut into
regions come back feasible; the process pool gives what one process gives."""

from __future__ import annotations

from typing import Any

import pytest

import matching
from matching.fanout import fan_out, infeasibilities, solve_fanned
from matching.problem import Assignment
from tests.matching.feasibility import check_plan
from tests.matching.problems import random_problem


def whole_jobs(data: dict[str, Any]) -> dict[str, Any]:
    for job in data["jobs"]:
        job["splittable"] = False
    return data


def two_regions(seed: int) -> dict[str, Any]:
    """Two random markets that share nothing (own factories), as one problem."""
    east = whole_jobs(random_problem(seed, factories=4, jobs=14, periods=3))
    west = whole_jobs(random_problem(seed + 100, factories=4, jobs=14, periods=3))
    for f in west["factories"]:
        f["id"] = "w" + f["id"]
    for job in west["jobs"]:
        job["id"] = "w" + job["id"]
        for option in job["options"]:
            option["factory"] = "w" + option["factory"]
    return {
        **east,
        "factories": east["factories"] + west["factories"],
        "jobs": east["jobs"] + west["jobs"],
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_independent_groups_solved_apart_place_as_much_as_solved_whole(seed):
    data = two_regions(seed)
    problem = matching.load_problem(data)
    fanned = fan_out(problem)
    assert len(fanned.parts) >= 2 and not fanned.cuts
    assert sorted(j for p in fanned.parts for j in p.jobs) == list(range(len(problem.jobs)))

    whole = matching.solve(problem, time_limit_s=20, workers=1)
    parts = solve_fanned(problem, time_limit_s=20, processes=1)

    check_plan(data, parts.plan.model_dump(mode="json"))
    assert whole.status == "OPTIMAL"
    assert parts.plan.status == "OPTIMAL"
    assert parts.plan.fill == pytest.approx(whole.fill, abs=1e-9)
    assert parts.plan.objective == pytest.approx(whole.objective, rel=1e-9)
    assert len(parts.parts) == len(fanned.parts)


def test_a_group_cut_into_regions_comes_back_feasible_with_its_boundary_reconciled():
    data = whole_jobs(random_problem(5, factories=8, jobs=60, periods=4))
    problem = matching.load_problem(data)
    fanned = fan_out(problem, max_part_terms=20)
    assert fanned.cuts and any(cut.boundary for cut in fanned.cuts)
    regional = [p for p in fanned.parts if ".r" in p.key]
    assert len(regional) >= 2

    parts = solve_fanned(problem, time_limit_s=6, processes=1, max_part_terms=20)
    whole = matching.solve(problem, time_limit_s=6, workers=1)

    check_plan(data, parts.plan.model_dump(mode="json"))
    assert parts.plan.status == "FEASIBLE" and parts.plan.bound is None
    # A boundary job may end up in another region than the one it was first solved in.
    assert (parts.plan.fill or 0) >= 0.97 * (whole.fill or 0)


def test_the_process_pool_gives_the_plan_one_process_gives():
    data = two_regions(4)
    problem = matching.load_problem(data)
    in_process = solve_fanned(problem, time_limit_s=10, processes=1)
    pooled = solve_fanned(problem, time_limit_s=10, processes=2)
    check_plan(data, pooled.plan.model_dump(mode="json"))
    assert pooled.plan.fill == pytest.approx(in_process.plan.fill, abs=1e-9)
    assert pooled.plan.objective == pytest.approx(in_process.plan.objective, rel=1e-9)
    assert {r.peak_rss_kb > 0 for r in pooled.parts} == {True}


def test_the_merged_check_finds_a_bucket_filled_twice():
    data = two_regions(6)
    problem = matching.load_problem(data)
    plan = solve_fanned(problem, time_limit_s=5, processes=1).plan
    first = plan.assignments[0]
    doubled = plan.model_copy(
        update={
            "assignments": (
                *plan.assignments,
                Assignment(**{**first.model_dump(), "hours": 10000.0}),
            )
        }
    )
    errors = infeasibilities(problem, doubled)
    assert any("used of" in e for e in errors)
    assert infeasibilities(problem, plan) == []
