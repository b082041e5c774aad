"""Realistic random marketplace instances for the matching benchmark and tests.

Many small shops with one or two processes and a few big plants with several; job
sizes lognormal; about 30% of jobs ask for a minimum credit and 40% may be split;
shipping lead time grows with distance; some factory-weeks are fully booked; total
demand is close to total capacity, so not everything can be placed cheaply.
"""

from __future__ import annotations

import math
import random
from typing import Any

RESOURCES = (
    "cnc_milling",
    "cnc_turning",
    "sheet_metal",
    "welding",
    "injection_molding",
    "additive",
    "grinding",
    "assembly",
)
RESOURCE_WEIGHTS = (0.22, 0.16, 0.14, 0.12, 0.1, 0.08, 0.08, 0.1)
BIG_SHARE = 0.12  # share of big plants among factories
ELIGIBLE_SHARE = 0.6  # share of capable factories passing the buyer's other filters
DEMAND_TO_CAPACITY = 1.0
BOOKED_WEEK_SHARE = 0.12
REGION_KM = 1200.0


def generate(factories: int, jobs: int, weeks: int, seed: int = 0) -> dict[str, Any]:
    """A contract-v1 problem (as JSON data) with the given size."""
    rng = random.Random(seed)
    periods = [f"2026-W{10 + t:02d}" for t in range(weeks)]
    shops = [_factory(rng, i) for i in range(factories)]
    capacity_by_resource = dict.fromkeys(RESOURCES, 0.0)
    for shop in shops:
        booked = {t for t in range(weeks) if rng.random() < BOOKED_WEEK_SHARE}
        shop["capacity"] = []
        for resource, weekly in shop["weekly"].items():
            for t, period in enumerate(periods):
                hours = 0.0 if t in booked else round(weekly * rng.uniform(0.6, 1.2))
                if hours > 0:
                    shop["capacity"].append(
                        {"resource": resource, "period": period, "hours": hours}
                    )
                    capacity_by_resource[resource] += hours

    raw_jobs = []
    for index in range(jobs):
        resource = rng.choices(RESOURCES, weights=RESOURCE_WEIGHTS)[0]
        raw_jobs.append((index, resource, rng.lognormvariate(math.log(30), 0.9)))
    demand_by_resource: dict[str, float] = {}
    for _, resource, hours in raw_jobs:
        demand_by_resource[resource] = demand_by_resource.get(resource, 0.0) + hours

    job_list = []
    for index, resource, raw_hours in raw_jobs:
        scale = DEMAND_TO_CAPACITY * capacity_by_resource[resource] / demand_by_resource[resource]
        hours = max(1.0, round(raw_hours * scale, 1))
        job_list.append(_job(rng, index, resource, hours, shops, periods))
    return {
        "version": 1,
        "periods": periods,
        "factories": [
            {"id": s["id"], "credit": s["credit"], "capacity": s["capacity"]} for s in shops
        ],
        "jobs": job_list,
    }


def _factory(rng: random.Random, index: int) -> dict[str, Any]:
    big = rng.random() < BIG_SHARE
    count = rng.randint(3, 6) if big else rng.choice((1, 1, 2, 2, 3))
    resources = set()
    while len(resources) < count:
        resources.add(rng.choices(RESOURCES, weights=RESOURCE_WEIGHTS)[0])
    weekly = {r: rng.uniform(160, 480) if big else rng.uniform(20, 80) for r in sorted(resources)}
    return {
        "id": f"f{index + 1}",
        "big": big,
        "x": rng.uniform(0, REGION_KM),
        "y": rng.uniform(0, REGION_KM),
        # New shops have little history, hence a low credit.
        "credit": round(rng.betavariate(6, 2) if rng.random() > 0.15 else rng.uniform(0.2, 0.6), 2),
        "rate": rng.uniform(55, 75) if big else rng.uniform(40, 80),
        "speed": rng.uniform(0.8, 0.95) if big else rng.uniform(0.9, 1.25),
        "weekly": weekly,
    }


def _job(
    rng: random.Random,
    index: int,
    resource: str,
    hours: float,
    shops: list[dict[str, Any]],
    periods: list[str],
) -> dict[str, Any]:
    weeks = len(periods)
    release = rng.randrange(weeks)
    due = min(weeks - 1, release + rng.choice((0, 1, 1, 2, 2, 3, 3)))
    x, y = rng.uniform(0, REGION_KM), rng.uniform(0, REGION_KM)
    options = []
    for shop in shops:
        if resource not in shop["weekly"] or rng.random() > ELIGIBLE_SHARE:
            continue
        km = math.hypot(shop["x"] - x, shop["y"] - y)
        option_hours = round(hours * shop["speed"] * rng.uniform(0.95, 1.05), 1)
        cost = option_hours * shop["rate"] * rng.uniform(0.9, 1.1) + km * (1.5 + hours / 20)
        options.append(
            {
                "factory": shop["id"],
                "hours": max(0.5, option_hours),
                "cost": round(cost, 2),
                "lead_periods": 0 if km < 400 else 1 if km < 900 else 2,
            }
        )
    job: dict[str, Any] = {
        "id": f"j{index + 1}",
        "resource": resource,
        "hours": hours,
        "release_period": periods[release],
        "due_period": periods[due],
        "splittable": rng.random() < 0.4,
        "priority": rng.choices((1, 2, 3), weights=(0.7, 0.2, 0.1))[0],
        "options": options,
    }
    if rng.random() < 0.3:
        job["min_credit"] = round(rng.uniform(0.6, 0.85), 2)
    return job
