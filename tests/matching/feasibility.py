"""An independent check of a plan against a problem, written from the contract text
(docs/matching-problem.md) on raw JSON data, sharing no code with the engine.
"""

from __future__ import annotations

from typing import Any

TOLERANCE = 1e-6
STATUSES = {"OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN"}


def check_plan(problem: dict[str, Any], plan: dict[str, Any]) -> tuple[float, float]:
    """Assert that `plan` is a feasible contract-v1 plan for `problem`.

    Returns (priority-weighted work placed, total cost) for comparisons.
    """
    assert set(plan) >= {"status", "objective", "bound", "assignments", "unassigned", "solve_s"}
    assert plan["status"] in STATUSES
    periods = problem.get("periods", ["P1"])
    position = {name: t for t, name in enumerate(periods)}
    factories = {f["id"]: f for f in problem["factories"]}
    jobs = {j["id"]: j for j in problem["jobs"]}

    capacity: dict[tuple[str, str, str], float] = {}
    for f in problem["factories"]:
        for entry in f.get("capacity", []):
            key = (f["id"], entry["resource"], entry["period"])
            capacity[key] = capacity.get(key, 0.0) + entry["hours"]

    used: dict[tuple[str, str, str], float] = {}
    share: dict[str, float] = dict.fromkeys(jobs, 0.0)
    factories_of: dict[str, set[str]] = {job_id: set() for job_id in jobs}
    hours_at: dict[tuple[str, str], float] = {}
    cost = 0.0
    for a in plan["assignments"]:
        job = jobs[a["job"]]
        options = {o["factory"]: o for o in job.get("options", [])}
        assert a["factory"] in options, f"{a}: not an option of the job"
        option = options[a["factory"]]
        factory = factories[a["factory"]]
        assert factory.get("credit", 1) >= job.get("min_credit", 0), f"{a}: credit too low"
        release = position[job.get("release_period", periods[0])]
        due = position[job.get("due_period", periods[-1])]
        latest = due - option.get("lead_periods", 0)
        assert release <= position[a["period"]] <= latest, f"{a}: outside the job's window"
        assert a["hours"] > 0, f"{a}: hours must be positive"
        key = (a["factory"], job["resource"], a["period"])
        used[key] = used.get(key, 0.0) + a["hours"]
        option_hours = option.get("hours", job["hours"])
        share[a["job"]] += a["hours"] / option_hours
        cost += option["cost"] * a["hours"] / option_hours
        factories_of[a["job"]].add(a["factory"])
        hours_at[a["job"], a["factory"]] = hours_at.get((a["job"], a["factory"]), 0.0) + a["hours"]

    for key, hours in used.items():
        assert hours <= capacity.get(key, 0.0) + TOLERANCE, f"{key}: {hours} h over capacity"

    for u in plan["unassigned"]:
        assert u["hours"] > 0
        share[u["job"]] += u["hours"] / jobs[u["job"]]["hours"]
    assert len({u["job"] for u in plan["unassigned"]}) == len(plan["unassigned"])

    placed = 0.0
    for job_id, job in jobs.items():
        assert abs(share[job_id] - 1) <= TOLERANCE, f"{job_id}: fractions add up to {share}"
        unassigned = sum(u["hours"] for u in plan["unassigned"] if u["job"] == job_id)
        if not job.get("splittable", False):
            # "all of the job's hours go to one factory": the whole job there, or none
            # of it anywhere (then all of it is reported unassigned).
            assert len(factories_of[job_id]) <= 1, f"{job_id}: split over factories"
            if factories_of[job_id]:
                [factory] = factories_of[job_id]
                option = next(o for o in job["options"] if o["factory"] == factory)
                option_hours = option.get("hours", job["hours"])
                placed_hours = hours_at[job_id, factory]
                assert abs(placed_hours - option_hours) <= TOLERANCE * max(1.0, option_hours), (
                    f"{job_id}: {placed_hours} of its {option_hours} h placed at {factory}"
                )
                assert unassigned == 0, f"{job_id}: placed at {factory} and partly unassigned"
            else:
                assert abs(unassigned - job["hours"]) <= TOLERANCE * max(1.0, job["hours"]), (
                    f"{job_id}: not placed, yet {unassigned} of its {job['hours']} h unassigned"
                )
        placed += job.get("priority", 1) * (1 - unassigned / job["hours"])

    assert abs(plan["objective"] - cost) <= TOLERANCE * max(1.0, cost), "objective != cost"
    if plan["bound"] is not None:
        assert plan["bound"] <= plan["objective"] + TOLERANCE * max(1.0, cost)
    return placed, cost
