"""Which factories may make an order line, and the contract-v1 problem built from that.

Eligibility is decided in the database where it can be (verified factory, a capability
for the process or one of its specializations, the material, the batch size, valid
certifications) and refined in Python for the rest (part envelope in any orientation,
tolerance class, currency, budget, and for paid work being re-placed the price the buyer
paid, `ceilings.py`). The minimum credit is the engine's to enforce: a
factory that fits in every other way but has too little credit is still listed as an
option of the job, whose `min_credit` keeps it out of the plan, so that the engine's
explanation can tell that factory why it did not get the work.

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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlmodel import Session, col, select

from factories.capacity.hours import free_hours
from factories.capacity.weeks import monday_of, week_count, week_label, weeks_from
from factories.certifications import valid_certificate_types
from factories.credit.score import risk_adjusted
from factories.fit import Need, distance_km, fits, lead_weeks, price_minor
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Factory,
    FactoryStatus,
    id_of,
)
from factories.taxonomy import specializations_of
from marketplace.orders.coverage import PendingWork, work_of_lines
from marketplace.orders.models import Order, OrderLine, Proposal, ProposalState
from marketplace.orders.runs.ceilings import price_ceilings

RESOURCE = "hours"
MAX_PERIODS = 52
# Proposals that end a factory's chance at a line: it said no, or let the deadline pass.
REFUSALS = (ProposalState.DECLINED, ProposalState.EXPIRED)


def job_id(line_id: int) -> str:
    return f"line-{line_id}"


def line_id_of(job: str) -> int:
    return int(job.removeprefix("line-"))


def capacity_line_id(factory_id: int, resource: str) -> str:
    return f"factory-{factory_id}/{resource}"


def parse_capacity_line(problem_factory: str) -> tuple[int, str]:
    head, resource = problem_factory.split("/", 1)
    return int(head.removeprefix("factory-")), resource


@dataclass(frozen=True)
class Candidate:
    """A capacity line that fits an order line (`meets_credit`: also its minimum credit)."""

    factory_id: int
    organization_id: int
    resource: str
    hourly_rate_minor: int
    credit: float
    distance_km: float
    lead_periods: int
    meets_credit: bool = True

    @property
    def problem_id(self) -> str:
        return capacity_line_id(self.factory_id, self.resource)


@dataclass
class _CapabilityRow:
    factory_id: int
    organization_id: int
    resource: str
    capability: Capability
    hourly_rate_minor: int
    currency: str
    credit: float
    latitude: float
    longitude: float


def eligible_candidates(
    session: Session, lines: Sequence[tuple[OrderLine, Order]]
) -> dict[int, list[Candidate]]:
    """Capacity lines fitting each order line, by line id (one query per process and
    material); those below the order's minimum credit come with `meets_credit` false."""
    groups: dict[tuple[str, str], list[tuple[OrderLine, Order]]] = defaultdict(list)
    for line, order in lines:
        groups[(line.process_code, line.material)].append((line, order))
    result: dict[int, list[Candidate]] = {}
    for (process, material), members in groups.items():
        rows = capability_rows(session, process, material)
        certified_on: dict[date, dict[int, set]] = {}
        for line, order in members:
            needed = set(line.certifications_required)
            if needed and order.due_date not in certified_on:
                certified_on[order.due_date] = valid_certificate_types(
                    session, {r.factory_id for r in rows}, order.due_date
                )
            need = Need(
                part_mm=(line.length_mm, line.width_mm, line.height_mm),
                tolerance_class=line.tolerance_class,
                quantity=line.quantity,
            )
            candidates = []
            for row in rows:
                if (
                    row.currency != order.currency
                    or not fits(row.capability, need)
                    or (needed and not needed <= certified_on[order.due_date][row.factory_id])
                ):
                    continue
                km = distance_km(
                    row.latitude, row.longitude, order.delivery_latitude, order.delivery_longitude
                )
                candidates.append(
                    Candidate(
                        factory_id=row.factory_id,
                        organization_id=row.organization_id,
                        resource=row.resource,
                        hourly_rate_minor=row.hourly_rate_minor,
                        credit=row.credit,
                        distance_km=round(km, 1),
                        lead_periods=lead_weeks(km),
                        meets_credit=row.credit >= order.min_credit,
                    )
                )
            result[id_of(line)] = candidates
    return result


def capability_rows(session: Session, process: str, material: str) -> list[_CapabilityRow]:
    rows = session.exec(
        select(Capability, Factory)
        .join(Factory, col(Factory.id) == col(Capability.factory_id))
        .join(CapabilityMaterial, col(CapabilityMaterial.capability_id) == col(Capability.id))
        .where(
            col(Capability.process_code).in_(sorted(specializations_of(process))),
            CapabilityMaterial.material == material,
            Factory.status == FactoryStatus.VERIFIED,
        )
        .order_by(col(Capability.factory_id), col(Capability.process_code))
    ).all()
    return [
        _CapabilityRow(
            factory_id=id_of(factory),
            organization_id=factory.organization_id,
            resource=capability.process_code,
            capability=capability,
            hourly_rate_minor=capability.hourly_rate_minor,
            currency=capability.currency,
            credit=factory.credit_score,
            latitude=factory.latitude,
            longitude=factory.longitude,
        )
        for capability, factory in rows
    ]


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
) -> BuiltProblem:
    """The problem placing the unaccepted work of `orders`; pending proposals are its hint.
    `reopened` accepted proposals count as pending (`coverage.work_of_lines`)."""
    order_ids = [id_of(o) for o in orders]
    by_id = {id_of(o): o for o in orders}
    lines = session.exec(
        select(OrderLine)
        .where(col(OrderLine.order_id).in_(order_ids))
        .order_by(col(OrderLine.order_id), col(OrderLine.line_no))
    ).all()
    accepted, pending = work_of_lines(session, order_ids, reopened)
    refused = _refusals(session, [id_of(line) for line in lines])

    first_week = monday_of(today)
    periods_end = max((monday_of(o.due_date) for o in orders), default=first_week)
    weeks_ahead = min(MAX_PERIODS, max(1, week_count(first_week, periods_end)))
    weeks = weeks_from(first_week, weeks_ahead)
    periods = [week_label(w) for w in weeks]

    built = BuiltProblem(problem={}, previous_plan=None)
    open_lines: list[tuple[OrderLine, Order, Decimal]] = []
    for line in lines:
        order = by_id[line.order_id]
        remaining = line.hours - accepted.get(id_of(line), Decimal(0))
        if remaining <= 0:
            continue
        if monday_of(order.due_date) < first_week:
            built.skipped[id_of(line)] = "due date has passed"
            continue
        open_lines.append((line, order, remaining))
    candidates = eligible_candidates(session, [(line, order) for line, order, _ in open_lines])
    ceilings = price_ceilings(session, [line for line, _, _ in open_lines], by_id, reopened)

    jobs: list[dict[str, Any]] = []
    used: dict[tuple[int, str], Candidate] = {}
    for line, order, remaining in open_lines:
        due_week = min(monday_of(order.due_date), weeks[-1])
        options = []
        eligible = {}
        for candidate in candidates.get(id_of(line), []):
            if candidate.factory_id in refused.get(id_of(line), ()):
                continue
            cost = price_minor(remaining, candidate.hourly_rate_minor)
            if order.budget_minor is not None and cost > order.budget_minor:
                continue
            if cost > ceilings.get(id_of(line), cost):  # paid work re-placed: no dearer
                continue
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
                eligible[candidate.problem_id] = candidate
            used[(candidate.factory_id, candidate.resource)] = candidate
        jid = job_id(id_of(line))
        built.candidates[jid] = eligible
        jobs.append(
            {
                "id": jid,
                "resource": RESOURCE,
                "hours": float(remaining),
                "release_period": periods[0],
                "due_period": week_label(due_week),
                "min_credit": order.min_credit,
                "splittable": line.splittable,
                "priority": 1,
                "options": options,
            }
        )

    held_here = _held_by_pending(pending)
    factories = _capacity_lines(session, used, weeks, held_here)
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


def _refusals(session: Session, line_ids: list[int]) -> dict[int, set[int]]:
    refused: dict[int, set[int]] = defaultdict(set)
    if not line_ids:
        return refused
    for line_id, factory_id in session.exec(
        select(Proposal.order_line_id, Proposal.factory_id).where(
            col(Proposal.order_line_id).in_(line_ids),
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
) -> list[dict[str, Any]]:
    """Problem factories: free hours per week of every capacity line some job may use."""
    if not used:
        return []
    factory_ids = sorted({f for f, _ in used})
    resources = sorted({r for _, r in used})
    buckets = session.exec(
        select(CapacityBucket).where(
            col(CapacityBucket.factory_id).in_(factory_ids),
            col(CapacityBucket.resource).in_(resources),
            CapacityBucket.point_in_time >= weeks[0],
            CapacityBucket.point_in_time <= weeks[-1],
        )
    ).all()
    capacity: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for bucket in sorted(buckets, key=lambda b: b.point_in_time):
        key = (bucket.factory_id, bucket.resource)
        if key not in used:
            continue
        free = free_hours(
            bucket.maximum_hours,
            bucket.booked_hours,
            reclaimed_held=held_here.get(id_of(bucket), Decimal(0)),
        )
        if free > 0:
            capacity[key].append(
                {
                    "resource": RESOURCE,
                    "period": week_label(bucket.point_in_time),
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
            select(CapacityBucket).where(col(CapacityBucket.id).in_(bucket_ids))
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
