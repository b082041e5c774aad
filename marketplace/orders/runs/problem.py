"""The contract-v1 problem of some orders, built from which factories may make each line.

Eligibility (`marketplace.orders.runs.eligibility`) is decided in the database where it
can be (verified factory, a capability for the process or one of its specializations,
the material) and refined in Python for the rest (part envelope in any orientation,
tolerance class, batch size, currency, certifications); the budget, for paid work
being re-placed the price the buyer paid (`ceilings.py`), and refusals are applied
here, and a job keeps at most MAX_OPTIONS options. The minimum credit is the engine's
to enforce: a factory that fits in every other way but has too little credit
is still listed as an option of the job, whose `min_credit` keeps it out of the plan,
so that the engine's explanation can tell that factory why it did not get the work.

Encoding in the problem (docs/matching-problem.md):

* periods are ISO weeks (`2026-W48`) from the current week to the latest due week;
* one problem "factory" is one capacity line of a real factory: `factory-12/milling_5axis`,
  with that factory's credit and the free hours of that (factory, process) bucket per
  week; every job and capacity entry uses the single resource `hours`, so a bucket is
  counted once however many processes it can serve (a 5-axis mill also does 3-axis work);
* a job is the unplaced work of one order line, `line-34`; its options are the eligible
  capacity lines, with `price` = hours x the capability's hourly rate in minor units of
  the order's currency (`factories.fit.price_minor`), the `cost` the engine minimizes =
  that price risk-adjusted by the factory's credit, price x (1 + 0.5 x (1 - credit))
  (`factories.credit.score.risk_adjusted`; the buyer pays the price), and `lead_periods`
  from the great-circle distance to the delivery place (`factories.fit.lead_weeks`);
* free hours are maximum - booked; hours held by the pending proposals of the orders
  being placed count as free, so that a re-match may keep or move them.

Lines and capacity rows are read in batches (`build_problem`), so building a national
problem holds the jobs being made, never all the rows behind them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.hours import free_hours
from factories.capacity.weeks import monday_of, week_count, week_label, weeks_from
from factories.credit.score import risk_adjusted
from factories.fit import prices_minor
from factories.models import CapacityBucket, among, id_of
from marketplace.orders.coverage import PendingWork, work_of_lines
from marketplace.orders.models import Order, OrderLine, Proposal, ProposalState
from marketplace.orders.runs.ceilings import price_ceilings
from marketplace.orders.runs.eligibility import (
    Candidate,
    EligibilityCache,
    Eligible,
    capability_rows,
    capacity_line_id,
    eligible,
    eligible_candidates,
)

__all__ = [
    "BuiltProblem",
    "Candidate",
    "EligibilityCache",
    "build_problem",
    "capability_rows",
    "capacity_line_id",
    "eligible_candidates",
    "job_id",
    "line_id_of",
    "parse_capacity_line",
]

RESOURCE = "hours"
MAX_PERIODS = 52
# A job is offered at most this many capacity lines (the nearest, then the cheapest):
# with thousands of capable shops, the problem stays linear in the number of jobs.
MAX_OPTIONS = 50
BATCH_LINES = 2000  # order lines (and capacity rows) read from the database at a time
# Proposals that end a factory's chance at a line: it said no, or let the deadline pass.
REFUSALS = (ProposalState.DECLINED, ProposalState.EXPIRED)


def job_id(line_id: int) -> str:
    return f"line-{line_id}"


def line_id_of(job: str) -> int:
    return int(job.removeprefix("line-"))


def parse_capacity_line(problem_factory: str) -> tuple[int, str]:
    head, resource = problem_factory.split("/", 1)
    return int(head.removeprefix("factory-")), resource


@dataclass
class BuiltProblem:
    """A contract-v1 problem for some orders, with what the app needs to apply its plan."""

    problem: dict[str, Any]
    previous_plan: dict[str, Any] | None
    # Lines that could not be offered to the engine at all, with the reason.
    skipped: dict[int, str] = field(default_factory=dict)
    # Eligible capacity lines per job (minimum credit met), kept for explanations.
    candidates: dict[str, dict[str, Candidate]] = field(default_factory=dict)

    @cached_property
    def jobs_by_id(self) -> dict[str, dict[str, Any]]:
        return {j["id"]: j for j in self.problem["jobs"]}

    def job(self, job_id: str) -> dict[str, Any]:
        """The problem's job with this id (an empty dict if there is none)."""
        return self.jobs_by_id.get(job_id, {})


def build_problem(
    session: Session,
    orders: Sequence[Order],
    today: date,
    *,
    time_limit_s: float,
    workers: int | None = None,
    seed: int | None = None,
    reopened: Collection[int] = (),
    batch: int = BATCH_LINES,
) -> BuiltProblem:
    """The problem placing the unaccepted work of `orders`; pending proposals are its hint.
    `reopened` accepted proposals count as pending (`coverage.work_of_lines`).

    Order lines and capacity rows are read in batches of `batch` (server-side cursors on
    PostgreSQL) and each batch's rows are dropped once turned into jobs, so a national
    run's hundred thousand lines never sit in memory as ORM objects all at once."""
    order_ids = [id_of(o) for o in orders]
    by_id = {id_of(o): o for o in orders}
    accepted, pending = work_of_lines(session, order_ids, reopened)
    refused = _refusals(session, order_ids)

    first_week = monday_of(today)
    periods_end = max((monday_of(o.due_date) for o in orders), default=first_week)
    weeks_ahead = min(MAX_PERIODS, max(1, week_count(first_week, periods_end)))
    weeks = weeks_from(first_week, weeks_ahead)
    periods = [week_label(w) for w in weeks]
    labels = {w: week_label(w) for w in weeks}

    built = BuiltProblem(problem={}, previous_plan=None)
    cache = EligibilityCache()
    jobs: list[dict[str, Any]] = []
    used: dict[tuple[int, str], Candidate] = {}
    lines = session.exec(
        select(OrderLine)
        .where(among(col(OrderLine.order_id), order_ids))
        .order_by(col(OrderLine.order_id), col(OrderLine.line_no))
        .execution_options(yield_per=batch)
    )
    for chunk in lines.partitions(batch):
        open_lines: list[tuple[OrderLine, Order, Decimal]] = []
        for line in chunk:
            order = by_id[line.order_id]
            remaining = line.hours - accepted.get(id_of(line), Decimal(0))
            if remaining <= 0:
                continue
            if monday_of(order.due_date) < first_week:
                built.skipped[id_of(line)] = "due date has passed"
                continue
            open_lines.append((line, order, remaining))
        found = eligible(session, [(line, order) for line, order, _ in open_lines], cache)
        ceilings = price_ceilings(session, [line for line, _, _ in open_lines], by_id, reopened)
        for line, order, remaining in open_lines:
            due_week = min(monday_of(order.due_date), weeks[-1])
            jid = job_id(id_of(line))
            chosen = _options_of(
                found[id_of(line)],
                cache,
                refused.get(id_of(line), ()),
                remaining,
                order,
                ceilings.get(id_of(line)),
            )
            options = []
            within_credit = {}
            for candidate, cost in chosen:
                options.append(
                    {
                        "factory": candidate.problem_id,
                        # Risk-adjusted: between comparable offers the more reliable shop wins.
                        "cost": risk_adjusted(cost, candidate.credit),
                        "price": cost,
                        "lead_periods": candidate.lead_periods,
                    }
                )
                if candidate.meets_credit:
                    within_credit[candidate.problem_id] = candidate
                used[(candidate.factory_id, candidate.resource)] = candidate
            built.candidates[jid] = within_credit
            jobs.append(
                {
                    "id": jid,
                    "resource": RESOURCE,
                    "hours": float(remaining),
                    "release_period": periods[0],
                    "due_period": labels.get(due_week) or week_label(due_week),
                    "min_credit": order.min_credit,
                    "splittable": line.splittable,
                    "priority": 1,
                    "options": options,
                }
            )

    held_here = _held_by_pending(pending)
    factories = _capacity_lines(session, used, weeks, held_here, batch)
    built.problem = {
        "version": 1,
        "periods": periods,
        "factories": factories,
        "jobs": jobs,
        "params": {
            k: v
            for k, v in (("time_limit_s", time_limit_s), ("workers", workers), ("seed", seed))
            if v is not None
        },
    }
    built.previous_plan = _previous_plan(session, pending, {j["id"] for j in jobs})
    return built


def _options_of(
    found: Eligible,
    cache: EligibilityCache,
    refused: Collection[int],
    hours: Decimal,
    order: Order,
    ceiling: int | None,
) -> list[tuple[Candidate, int]]:
    """The candidates a job is offered, with their price: not refused, within the
    order's budget and (paid work re-placed) no dearer than `ceiling`, and at most
    MAX_OPTIONS of them, the nearest (shortest shipping) first and among those the
    cheapest (then by capacity line id)."""
    table, indices, leads = found.table, found.indices, found.leads
    costs = prices_minor(hours, table.rates[indices])
    keep = np.ones(len(indices), dtype=bool)
    if refused:
        keep &= ~np.isin(table.factory_ids[indices], list(refused))
    if order.budget_minor is not None:
        keep &= costs <= order.budget_minor
    if ceiling is not None:  # paid work re-placed: no dearer
        keep &= costs <= ceiling
    indices, leads, costs = indices[keep], leads[keep], costs[keep]
    if len(indices) > MAX_OPTIONS:
        nearest = np.lexsort((table.rank[indices], costs, leads))[:MAX_OPTIONS]
        indices, costs = indices[nearest], costs[nearest]
    return [
        (cache.candidate(table, int(i), order), int(cost))
        for i, cost in zip(indices, costs, strict=True)
    ]


def _refusals(session: Session, order_ids: list[int]) -> dict[int, set[int]]:
    """Factories that refused each line of the orders, by line id."""
    refused: dict[int, set[int]] = defaultdict(set)
    if not order_ids:
        return refused
    for line_id, factory_id in session.exec(
        select(Proposal.order_line_id, Proposal.factory_id).where(
            among(col(Proposal.order_id), order_ids),
            col(Proposal.state).in_(REFUSALS),
        )
    ).all():
        refused[line_id].add(factory_id)
    return refused


def _held_by_pending(
    pending: PendingWork,
) -> dict[int, Decimal]:
    held: dict[int, Decimal] = defaultdict(Decimal)
    for entries in pending.values():
        for _, slots in entries:
            for slot in slots:
                held[slot.bucket_id] += slot.hours
    return held


def _capacity_lines(
    session: Session,
    used: dict[tuple[int, str], Candidate],
    weeks: list[date],
    held_here: dict[int, Decimal],
    batch: int,
) -> list[dict[str, Any]]:
    """Problem factories: free hours per week of every capacity line some job may use
    (the rows read in batches, in the order of their lines and weeks)."""
    if not used:
        return []
    factory_ids = sorted({f for f, _ in used})
    resources = sorted({r for _, r in used})
    buckets = session.execute(
        sa.select(  # more columns than sqlmodel.select is typed for
            col(CapacityBucket.id),
            col(CapacityBucket.factory_id),
            col(CapacityBucket.resource),
            col(CapacityBucket.point_in_time),
            col(CapacityBucket.maximum_hours),
            col(CapacityBucket.booked_hours),
        )
        .where(
            col(CapacityBucket.factory_id).in_(factory_ids),
            col(CapacityBucket.resource).in_(resources),
            col(CapacityBucket.point_in_time) >= weeks[0],
            col(CapacityBucket.point_in_time) <= weeks[-1],
        )
        .order_by(col(CapacityBucket.point_in_time), col(CapacityBucket.id))
        .execution_options(yield_per=batch)
    )
    capacity: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    labels = {week: week_label(week) for week in weeks}
    for bucket_id, factory_id, resource, week, maximum, booked in buckets:
        key = (factory_id, resource)
        if key not in used:
            continue
        free = free_hours(maximum, booked, reclaimed_held=held_here.get(bucket_id, Decimal(0)))
        if free > 0:
            capacity[key].append(
                {
                    "resource": RESOURCE,
                    "period": labels.get(week) or week_label(week),
                    "hours": float(free),
                }
            )
    return [
        {
            "id": candidate.problem_id,
            "credit": candidate.credit,
            "capacity": capacity.get(key, []),
        }
        for key, candidate in sorted(used.items())
    ]


def _previous_plan(
    session: Session,
    pending: PendingWork,
    job_ids: set[str],
) -> dict[str, Any] | None:
    """Standing pending proposals as a contract-v1 plan (the re-match keeps what it can)."""
    slots = [
        (line_id, slot)
        for line_id, entries in pending.items()
        for _, line_slots in entries
        for slot in line_slots
    ]
    if not slots:
        return None
    bucket_ids = sorted({slot.bucket_id for _, slot in slots})
    buckets = {
        b.id: b
        for b in session.exec(
            select(CapacityBucket).where(among(col(CapacityBucket.id), bucket_ids))
        ).all()
    }
    assignments = []
    for line_id, slot in slots:
        if job_id(line_id) not in job_ids:
            continue
        bucket = buckets[slot.bucket_id]
        assignments.append(
            {
                "job": job_id(line_id),
                "factory": capacity_line_id(bucket.factory_id, bucket.resource),
                "period": week_label(bucket.point_in_time),
                "hours": float(slot.hours),
            }
        )
    return {
        "status": "FEASIBLE",
        "objective": 0.0,
        "bound": None,
        "assignments": assignments,
        "unassigned": [],
        "solve_s": 0.0,
    }
