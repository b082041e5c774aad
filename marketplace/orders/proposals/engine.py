"""The engine's own account of a run's jobs (`RunExplainer`), for the buyer, the
factories that got the work and those that lost it.

A job is explained against its own part of the problem: its options, their capacity and
the hours the rest of the plan uses there, which costs milliseconds a job however large
the run, where explaining against the whole problem compiles all of it again for every
job. Reasons are ranked by how close a capacity line came to winning (`CLOSENESS`); a
losing price is told as a band, never as a figure (`price_band`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, select

import matching
from marketplace.orders.models import MatchRun
from marketplace.orders.runs.problem import parse_capacity_line
from matching.reasons import (
    CREDIT_BELOW_MINIMUM,
    MORE_EXPENSIVE,
    NO_CAPACITY,
    NO_FREE_CAPACITY,
    NOT_HELD,
    NOT_NEEDED,
    NOT_USED,
    SHIPPING_TOO_SLOW,
)

HOURS_TOLERANCE = 1e-6
CLOSENESS = (
    NOT_HELD,
    MORE_EXPENSIVE,
    NOT_NEEDED,
    NOT_USED,
    NO_FREE_CAPACITY,
    NO_CAPACITY,
    SHIPPING_TOO_SLOW,
    CREDIT_BELOW_MINIMUM,
)


class Unexplainable(ValueError):
    """The stored problem or plan does not hold this job or this factory's options."""


class RunExplainer:
    """Explains the jobs of one run, each against its own part of the problem: to the
    buyer, to the factories that got the work and to those that lost it."""

    def __init__(self, problem: dict[str, Any], plan: dict[str, Any] | None) -> None:
        self.problem = problem or {}
        self.plan = plan
        self.periods: list[str] = list(self.problem.get("periods") or ["P1"])
        self.jobs = {j["id"]: j for j in self.problem.get("jobs", [])}
        self.factories = {f["id"]: f for f in self.problem.get("factories", [])}
        # Hours the plan uses per (capacity line, period, resource), and each job's share.
        self.used: dict[str, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
        self.own: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in (plan or {}).get("assignments", []):
            job = self.jobs.get(a["job"])
            if job is None:
                continue
            self.used[a["factory"]][(a["period"], job["resource"])] += a["hours"]
            self.own[a["job"]].append(a)

    def reasons(self, job: str, factory_id: int) -> list[dict[str, Any]]:
        """The binding reason for each of the factory's capacity lines that were options
        of the job, closest to winning first."""
        if self.plan is None or job not in self.jobs:
            raise Unexplainable(job)
        data = self.jobs[job]
        mine = {o["factory"] for o in data["options"] if _factory_of(o["factory"]) == factory_id}
        if not mine:
            raise Unexplainable(f"{job}: factory {factory_id}")
        explanation = self.explain(job, mine)
        found = []
        for entry in explanation["chosen"]:
            if entry["factory"] in mine:
                found.append(self._reason(data, entry, NOT_HELD))
        for entry in explanation["not_chosen"]:
            if entry["factory"] in mine:
                found.append(self._reason(data, entry, entry["reason"]))
        return sorted(found, key=_closeness)

    def explain(self, job: str, lines: set[str] | None = None) -> dict[str, Any]:
        """`matching.explain` of the job, for its options among `lines` (capacity lines;
        all of its options when None) and those that got it: what the whole problem
        would say of them, at the cost of the job's own part of it."""
        if self.plan is None or job not in self.jobs:
            raise Unexplainable(job)
        if lines is None:
            lines = {o["factory"] for o in self.jobs[job]["options"]}
        return matching.explain(*self._part_for(job, lines), job)

    def _part_for(self, job: str, mine: set[str]) -> tuple[matching.Problem, matching.Plan]:
        """The job with the options among `mine` and the winners', against the capacity
        of those lines less the hours the rest of the plan uses there."""
        data = self.jobs[job]
        own = self.own.get(job, [])
        keep = mine | {a["factory"] for a in own}
        if not keep <= set(self.factories):
            raise Unexplainable(job)
        own_hours: dict[tuple[str, str], float] = defaultdict(float)
        for a in own:
            own_hours[(a["factory"], a["period"])] += a["hours"]
        assignments = list(own)
        others: dict[str, dict[str, Any]] = {}
        for line in sorted(keep):
            for (period, resource), hours in sorted(self.used.get(line, {}).items()):
                if resource == data["resource"]:
                    hours -= own_hours.get((line, period), 0.0)
                if hours <= HOURS_TOLERANCE:
                    continue
                stand_in = f"other work/{resource}"
                others.setdefault(stand_in, {"id": stand_in, "resource": resource, "hours": 1})
                assignments.append(
                    {"job": stand_in, "factory": line, "period": period, "hours": hours}
                )
        problem = {
            "version": 1,
            "periods": self.periods,
            "factories": [self.factories[line] for line in sorted(keep)],
            "jobs": [
                {**data, "options": [o for o in data["options"] if o["factory"] in keep]},
                *others.values(),
            ],
        }
        plan = {
            "status": self.plan["status"] if self.plan else "UNKNOWN",
            "objective": 0.0,
            "bound": None,
            "assignments": assignments,
            "unassigned": [u for u in (self.plan or {}).get("unassigned", []) if u["job"] == job],
            "solve_s": 0.0,
        }
        return matching.load_problem(problem), matching.load_plan(plan)

    def _reason(self, job: dict[str, Any], entry: dict[str, Any], reason: str) -> dict[str, Any]:
        option = next(o for o in job["options"] if o["factory"] == entry["factory"])
        result: dict[str, Any] = {
            "resource": parse_capacity_line(entry["factory"])[1],
            "reason": reason,
        }
        needed = option.get("hours") or job["hours"]
        first, last = self._window(job, option.get("lead_periods", 0))
        if reason == CREDIT_BELOW_MINIMUM:
            result.update(credit=entry["credit"], min_credit=job.get("min_credit", 0.0))
        elif reason == SHIPPING_TOO_SLOW:
            result.update(
                lead_weeks=option.get("lead_periods", 0),
                due_week=job.get("due_period") or self.periods[-1],
            )
        elif reason in (NO_CAPACITY, NO_FREE_CAPACITY):
            if reason == NO_CAPACITY:
                free = self._capacity(entry["factory"], job["resource"], first, last)
            else:
                free = entry.get("free_hours", 0.0)
            result.update(
                free_hours=_hours(free),
                needed_hours=_hours(needed),
                splittable=bool(job.get("splittable", False)),
                window=[self.periods[first], self.periods[last]] if first <= last else [],
            )
        elif reason == MORE_EXPENSIVE:
            # Where it stood, never by how much: its own price less the difference would
            # be the price of the factory that got the work.
            rank, count = _price_rank(job, _factory_of(entry["factory"]))
            result.update(
                price_rank=rank,
                price_of=count,
                price_band=price_band(option["cost"], entry.get("extra_cost", 0.0)),
            )
        elif reason == NOT_HELD:
            result.update(hours=_hours(entry["hours"]))
        return result

    def _window(self, job: dict[str, Any], lead: int) -> tuple[int, int]:
        index = {p: t for t, p in enumerate(self.periods)}
        first = index.get(job.get("release_period") or self.periods[0], 0)
        due = index.get(job.get("due_period") or self.periods[-1], len(self.periods) - 1)
        return first, due - lead

    def _capacity(self, line: str, resource: str, first: int, last: int) -> float:
        weeks = set(self.periods[max(first, 0) : last + 1])
        return sum(
            c["hours"]
            for c in self.factories[line].get("capacity", [])
            if c["resource"] == resource and c["period"] in weeks
        )


def _factory_of(problem_factory: str) -> int | None:
    try:
        return parse_capacity_line(problem_factory)[0]
    except ValueError:
        return None


def _hours(value: float) -> float:
    return round(max(0.0, value), 2)


def _closeness(reason: dict[str, Any]) -> tuple[int, float]:
    rank = CLOSENESS.index(reason["reason"]) if reason["reason"] in CLOSENESS else len(CLOSENESS)
    return rank, reason.get("price_rank", 0)


# How much dearer than the work's price a losing price was: no figure, a band.
PRICE_BANDS = ((0.10, "within_10_percent"), (0.30, "10_to_30_percent"))
ABOVE_30_PERCENT = "over_30_percent"


def price_band(own_cost: float, extra_cost: float) -> str:
    chosen = max(own_cost - extra_cost, 1.0)
    share = extra_cost / chosen
    return next((band for limit, band in PRICE_BANDS if share <= limit), ABOVE_30_PERCENT)


def _price_rank(job: dict[str, Any], factory_id: int | None) -> tuple[int, int]:
    """The factory's place among the job's factories by price (1: the cheapest), and how
    many there were; each factory by its cheapest capacity line."""
    cheapest: dict[int | None, float] = {}
    for option in job["options"]:
        owner = _factory_of(option["factory"])
        cheapest[owner] = min(option["cost"], cheapest.get(owner, option["cost"]))
    mine = cheapest.get(factory_id, 0.0)
    return 1 + sum(1 for cost in cheapest.values() if cost < mine), len(cheapest)


def run_explainer(session: Session, run_id: int) -> RunExplainer:
    """The explainer of a run's stored problem and plan (one load of each)."""
    stored = session.exec(
        select(MatchRun.problem, MatchRun.plan).where(MatchRun.id == run_id)
    ).first()
    return RunExplainer(*(stored or ({}, None)))
