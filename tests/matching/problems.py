"""Random contract-v1 problems for property tests (hypothesis strategies)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

RESOURCES = ("milling", "welding")
# Beside round values, some with more decimals than cents or thousandths of an hour
# (0.3333 h, 10.001 and 10.004), which the engine must scale exactly, and some with more
# than it can scale (a third of an hour, 100/3), which it must round on the safe side
# and then not call OPTIMAL.
THIRD = 1 / 3
HOURS = st.sampled_from([1, 2, 2.5, 3, 4, 5.25, 6, 8, 10, 12.5, 15, 0.3333, 1.0625, THIRD])
CAPACITY = st.sampled_from([0, 1, 3, 4.5, 6, 8, 10, 12, 16, 20, 2.0001])
COST = st.sampled_from([0, 10, 12.5, 20, 33.3, 40, 55, 70, 99.99, 10.001, 10.004, 100 / 3])
MAX_EXACT_DECIMALS = 6  # what the contract's numbers may have for a proof of optimality


def decimals(value: float) -> int:
    """Decimal places of a number as JSON writes it (repr: the shortest exact form)."""
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    places = len(mantissa.partition(".")[2].rstrip("0"))
    return max(0, places - int(exponent or 0))


def numbers_are_short(data: dict[str, Any]) -> bool:
    """Whether every hour, cost and priority of a problem has at most 6 decimals."""
    values = [c["hours"] for f in data["factories"] for c in f.get("capacity", [])]
    for job in data["jobs"]:
        values += [job["hours"], job.get("priority", 1)]
        for option in job.get("options", []):
            values += [option["cost"], option.get("hours", 0)]
    return all(decimals(v) <= MAX_EXACT_DECIMALS for v in values)


@st.composite
def problems(
    draw: st.DrawFn,
    max_periods: int = 3,
    max_factories: int = 4,
    max_jobs: int = 6,
    splittable: bool | None = None,
) -> dict[str, Any]:
    periods = [f"W{t}" for t in range(draw(st.integers(1, max_periods)))]
    factories = []
    for i in range(draw(st.integers(1, max_factories))):
        capacity = [
            {"resource": r, "period": p, "hours": draw(CAPACITY)}
            for r in RESOURCES
            for p in periods
            if draw(st.booleans())
        ]
        factory: dict[str, Any] = {"id": f"f{i}", "capacity": capacity}
        if draw(st.booleans()):
            factory["credit"] = draw(st.sampled_from([0.3, 0.6, 0.9, 1]))
        factories.append(factory)
    jobs = []
    for j in range(draw(st.integers(1, max_jobs))):
        release = draw(st.integers(0, len(periods) - 1))
        due = draw(st.integers(release, len(periods) - 1))
        options = []
        for factory in factories:
            if not draw(st.booleans()):
                continue
            option: dict[str, Any] = {"factory": factory["id"], "cost": draw(COST)}
            if draw(st.booleans()):
                option["hours"] = draw(HOURS)
            if draw(st.booleans()):
                option["lead_periods"] = draw(st.integers(0, 2))
            options.append(option)
        job: dict[str, Any] = {
            "id": f"j{j}",
            "resource": draw(st.sampled_from(RESOURCES)),
            "hours": draw(HOURS),
            "release_period": periods[release],
            "due_period": periods[due],
            "splittable": draw(st.booleans()) if splittable is None else splittable,
            "priority": draw(st.sampled_from([1, 1, 2, 3])),
            "options": options,
        }
        if draw(st.booleans()):
            job["min_credit"] = draw(st.sampled_from([0.5, 0.8]))
        jobs.append(job)
    return {"version": 1, "periods": periods, "factories": factories, "jobs": jobs}


def random_problem(seed: int, factories: int, jobs: int, periods: int) -> dict[str, Any]:
    """A larger random problem, reproducible from its seed (for search behaviour tests)."""
    import random

    rng = random.Random(seed)
    names = [f"W{t}" for t in range(periods)]
    factory_list = [
        {
            "id": f"f{i}",
            "credit": round(rng.uniform(0.4, 1), 2),
            "capacity": [
                {"resource": r, "period": p, "hours": rng.choice([0, 10, 20, 30, 40])}
                for r in RESOURCES
                for p in names
            ],
        }
        for i in range(factories)
    ]
    job_list = []
    for j in range(jobs):
        release = rng.randrange(periods)
        options = [
            {
                "factory": f["id"],
                "cost": round(rng.uniform(10, 100), 2),
                "hours": rng.choice([4, 6, 8, 12]),
                "lead_periods": rng.choice([0, 0, 1]),
            }
            for f in factory_list
            if rng.random() < 0.4
        ]
        job_list.append(
            {
                "id": f"j{j}",
                "resource": rng.choice(RESOURCES),
                "hours": rng.choice([4, 6, 8, 12]),
                "release_period": names[release],
                "due_period": names[rng.randrange(release, periods)],
                "splittable": rng.random() < 0.4,
                "priority": rng.choice([1, 1, 2]),
                "min_credit": rng.choice([0, 0, 0.7]),
                "options": options,
            }
        )
    return {"version": 1, "periods": names, "factories": factory_list, "jobs": job_list}


@st.composite
def crowded_problems(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly non-splittable jobs competing for a few factories' weeks: plans in which
    many jobs sit whole in one capacity bucket and could trade places."""
    periods = [f"W{t}" for t in range(draw(st.integers(1, 3)))]
    factories = [
        {
            "id": f"f{i}",
            "capacity": [
                {"resource": "r", "period": p, "hours": draw(st.sampled_from([4, 6, 8, 10]))}
                for p in periods
                if draw(st.integers(0, 3))
            ],
        }
        for i in range(draw(st.integers(2, 5)))
    ]
    jobs = []
    for j in range(draw(st.integers(3, 14))):
        release = draw(st.integers(0, len(periods) - 1))
        chosen = draw(
            st.lists(
                st.sampled_from(factories), min_size=1, max_size=4, unique_by=lambda f: f["id"]
            )
        )
        options = []
        for factory in chosen:
            option: dict[str, Any] = {"factory": factory["id"], "cost": draw(COST)}
            if draw(st.booleans()):
                option["hours"] = draw(st.sampled_from([2, 3, 4, 5, 6, 8]))
            options.append(option)
        jobs.append(
            {
                "id": f"j{j}",
                "resource": "r",
                "hours": draw(st.sampled_from([2, 3, 4, 5, 6])),
                "release_period": periods[release],
                "due_period": periods[draw(st.integers(release, len(periods) - 1))],
                "splittable": draw(st.integers(0, 5)) == 0,
                "priority": draw(st.sampled_from([1, 1, 2])),
                "options": options,
            }
        )
    return {"version": 1, "periods": periods, "factories": factories, "jobs": jobs}
