"""Realistic random marketplace instances for the matching benchmark and tests, in
several shapes.

`standard`: many small shops with one or two processes and a few big plants with
several; job sizes lognormal; about 30% of jobs ask for a minimum credit and 40% may be
split; shipping lead time grows with distance; some factory-weeks are fully booked;
total demand is close to total capacity, so not everything can be placed cheaply.

`regional`: small shops almost only, each job offered to its few nearest capable shops
(at most 6), demand 15% above capacity, few splittable jobs, more spread job sizes.

`plants`: many big plants, each job offered to up to 50 shops, capacity 10% above
demand with more weeks booked, most jobs splittable and larger, half with a minimum
credit.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
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
REGION_KM = 1200.0


@dataclass(frozen=True, slots=True)
class Shape:
    big_share: float  # share of big plants among factories
    eligible_share: float  # share of capable factories passing the buyer's other filters
    max_options: int | None  # the nearest eligible factories only, at most this many
    demand_to_capacity: float
    booked_week_share: float
    splittable_share: float
    min_credit_share: float
    job_hours_median: float
    job_hours_sigma: float


SHAPES = {
    "standard": Shape(0.12, 0.6, None, 1.0, 0.12, 0.4, 0.3, 30.0, 0.9),
    "regional": Shape(0.04, 0.8, 6, 1.15, 0.1, 0.15, 0.2, 25.0, 1.1),
    "plants": Shape(0.4, 0.9, 50, 0.9, 0.2, 0.7, 0.5, 60.0, 0.8),
}
DEFAULT_SHAPE = "standard"


def generate(
    factories: int, jobs: int, weeks: int, seed: int = 0, shape: str = DEFAULT_SHAPE
) -> dict[str, Any]:
    """A contract-v1 problem (as JSON data) with the given size and shape."""
    form = SHAPES[shape]
    rng = random.Random(seed)
    periods = [f"2026-W{10 + t:02d}" for t in range(weeks)]
    shops = [_factory(rng, i, form) for i in range(factories)]
    capacity_by_resource = dict.fromkeys(RESOURCES, 0.0)
    for shop in shops:
        booked = {t for t in range(weeks) if rng.random() < form.booked_week_share}
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
        hours = rng.lognormvariate(math.log(form.job_hours_median), form.job_hours_sigma)
        raw_jobs.append((index, resource, hours))
    demand_by_resource: dict[str, float] = {}
    for _, resource, hours in raw_jobs:
        demand_by_resource[resource] = demand_by_resource.get(resource, 0.0) + hours

    job_list = []
    for index, resource, raw_hours in raw_jobs:
        scale = form.demand_to_capacity * capacity_by_resource[resource]
        scale /= demand_by_resource[resource]
        hours = max(1.0, round(raw_hours * scale, 1))
        job_list.append(_job(rng, index, resource, hours, shops, periods, form))
    return {
        "version": 1,
        "periods": periods,
        "factories": [
            {"id": s["id"], "credit": s["credit"], "capacity": s["capacity"]} for s in shops
        ],
        "jobs": job_list,
    }


def _factory(rng: random.Random, index: int, form: Shape) -> dict[str, Any]:
    big = rng.random() < form.big_share
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
    form: Shape,
) -> dict[str, Any]:
    weeks = len(periods)
    release = rng.randrange(weeks)
    due = min(weeks - 1, release + rng.choice((0, 1, 1, 2, 2, 3, 3)))
    x, y = rng.uniform(0, REGION_KM), rng.uniform(0, REGION_KM)
    options = []
    for shop in shops:
        if resource not in shop["weekly"] or rng.random() > form.eligible_share:
            continue
        km = math.hypot(shop["x"] - x, shop["y"] - y)
        option_hours = round(hours * shop["speed"] * rng.uniform(0.95, 1.05), 1)
        cost = option_hours * shop["rate"] * rng.uniform(0.9, 1.1) + km * (1.5 + hours / 20)
        options.append(
            (
                km,
                {
                    "factory": shop["id"],
                    "hours": max(0.5, option_hours),
                    "cost": round(cost, 2),
                    "lead_periods": 0 if km < 400 else 1 if km < 900 else 2,
                },
            )
        )
    if form.max_options is not None and len(options) > form.max_options:
        options = sorted(options, key=lambda pair: pair[0])[: form.max_options]
    job: dict[str, Any] = {
        "id": f"j{index + 1}",
        "resource": resource,
        "hours": hours,
        "release_period": periods[release],
        "due_period": periods[due],
        "splittable": rng.random() < form.splittable_share,
        "priority": rng.choices((1, 2, 3), weights=(0.7, 0.2, 0.1))[0],
        "options": [option for _, option in options],
    }
    if rng.random() < form.min_credit_share:
        job["min_credit"] = round(rng.uniform(0.6, 0.85), 2)
    return job
