"""Why a job went where it went: shown to the buyer, and to factories that lost it."""

from __future__ import annotations

from typing import Any

from matching.instance import Choice, Instance, compile_problem
from matching.problem import Plan, Problem
from matching.reasons import (
    CHOSEN,
    MORE_EXPENSIVE,
    NO_CAPACITY,
    NO_FREE_CAPACITY,
    NOT_NEEDED,
    NOT_USED,
)

TOLERANCE = 1e-9


def explain(problem: Problem, plan: Plan, job_id: str) -> dict[str, Any]:
    """Plain-data explanation of one job's placement in `plan`.

    `chosen`: each factory the job went to, with its hours, prorated cost, option cost,
    lead time and credit. `not_chosen`: every other option with its binding reason, a
    code of `matching.reasons` (the engine's own: all but `not_held` and `unexplained`),
    and a `detail` sentence; `more_expensive` and `not_needed` also give `extra_cost`,
    `no_free_capacity_in_window` and `not_used` the `free_hours` left for the job.
    """
    instance = compile_problem(problem)
    j = next((i for i, job in enumerate(problem.jobs) if job.id == job_id), None)
    if j is None:
        raise KeyError(f'unknown job "{job_id}"')
    job = problem.jobs[j]
    info = instance.jobs[j]
    factory_ids = [f.id for f in problem.factories]
    hours_by_factory: dict[str, float] = {}
    for a in plan.assignments:
        if a.job == job_id:
            hours_by_factory[a.factory] = hours_by_factory.get(a.factory, 0.0) + a.hours
    unassigned = sum(u.hours for u in plan.unassigned if u.job == job_id)

    chosen = []
    chosen_costs = []
    for option in job.options:
        hours = hours_by_factory.get(option.factory)
        if not hours:
            continue
        share = hours / job.hours_at(option)
        factory = problem.factories[factory_ids.index(option.factory)]
        chosen_costs.append((option.factory, option.cost))
        chosen.append(
            {
                "factory": option.factory,
                "reason": CHOSEN,
                "hours": hours,
                "share": share,
                "cost": option.cost * share,
                "option_cost": option.cost,
                "lead_periods": option.lead_periods,
                "credit": factory.credit,
                "detail": _chosen_detail(
                    option.cost, option.lead_periods, factory.credit, job.min_credit, share
                ),
            }
        )

    free = _free_hours(instance, problem, plan, job_id)
    fully_placed = unassigned <= TOLERANCE * max(1.0, job.hours)
    rejected = {r.option: r for r in info.rejections}
    choices = {c.option: c for c in info.choices}
    not_chosen = []
    for o, option in enumerate(job.options):
        if option.factory in hours_by_factory:
            continue
        entry: dict[str, Any] = {
            "factory": option.factory,
            "option_cost": option.cost,
            "lead_periods": option.lead_periods,
            "credit": problem.factories[factory_ids.index(option.factory)].credit,
        }
        if o in rejected:
            entry.update(reason=rejected[o].reason, detail=rejected[o].detail)
            if rejected[o].reason == NO_CAPACITY:
                entry["detail"] = "no capacity in the window: " + rejected[o].detail
        else:
            entry.update(
                _compare(instance, choices[o], free, info.splittable, fully_placed, chosen_costs)
            )
        not_chosen.append(entry)
    return {
        "job": job_id,
        "hours": job.hours,
        "assigned_share": 1.0 - unassigned / job.hours,
        "unassigned_hours": unassigned,
        "chosen": chosen,
        "not_chosen": not_chosen,
    }


def _chosen_detail(cost: float, lead: int, credit: float, min_credit: float, share: float) -> str:
    parts = [f"cost {cost:.2f} for the whole job ({share:.0%} placed here)"]
    parts.append("ships within the period" if lead == 0 else f"ships in {lead} period(s)")
    parts.append(f"credit {credit:g}" + (f" >= required {min_credit:g}" if min_credit else ""))
    return ", ".join(parts)


def _free_hours(
    instance: Instance, problem: Problem, plan: Plan, job_id: str
) -> dict[tuple[int, str, int], float]:
    """Free hours per (factory, resource, period) once every OTHER job of the plan is in."""
    factory_index = {f.id: i for i, f in enumerate(problem.factories)}
    period_index = {p: t for t, p in enumerate(problem.periods)}
    resource = {job.id: job.resource for job in problem.jobs}
    free = dict(zip(instance.bucket_keys, instance.bucket_hours, strict=True))
    for a in plan.assignments:
        if a.job == job_id:
            continue
        key = (factory_index[a.factory], resource[a.job], period_index[a.period])
        free[key] = free.get(key, 0.0) - a.hours
    return free


def _compare(
    instance: Instance,
    choice: Choice,
    free: dict[tuple[int, str, int], float],
    splittable: bool,
    fully_placed: bool,
    chosen_costs: list[tuple[str, float]],
) -> dict[str, Any]:
    problem = instance.problem
    keys = [instance.bucket_keys[b] for b in choice.buckets]
    room = sum(max(0.0, free.get(key, 0.0)) for key in keys)
    window = f"{problem.periods[choice.periods[0]]}..{problem.periods[choice.periods[-1]]}"
    fits = room > TOLERANCE if splittable else room >= choice.hours - TOLERANCE
    if not fits:
        return {
            "reason": NO_FREE_CAPACITY,
            "free_hours": room,
            "detail": (
                f"{room:g} h free in {window} after the other jobs, "
                f"{choice.hours:g} h needed" + ("" if splittable else " in one piece")
            ),
        }
    # Fill comes before cost: while the job still misses hours, an option with room is
    # never rightly left for its price, only by a search that stopped short.
    if chosen_costs and fully_placed:
        reference_factory, reference_cost = max(chosen_costs, key=lambda fc: fc[1])
        extra = choice.cost - reference_cost
        if extra > TOLERANCE:
            return {
                "reason": MORE_EXPENSIVE,
                "extra_cost": extra,
                "detail": (
                    f"costs {choice.cost:.2f}, {extra:.2f}"
                    f" ({extra / max(reference_cost, 1e-9):.0%})"
                    f" more than {reference_factory} at {reference_cost:.2f}"
                ),
            }
        return {
            "reason": NOT_NEEDED,
            "extra_cost": extra,
            "detail": (
                f"the job is fully placed; this option costs {choice.cost:.2f} against "
                f"{reference_cost:.2f} at {reference_factory}"
            ),
        }
    return {
        "reason": NOT_USED,
        "free_hours": room,
        "detail": (
            f"{room:g} h were free in {window} but the search did not use them; "
            "the plan is not proven optimal"
        ),
    }
