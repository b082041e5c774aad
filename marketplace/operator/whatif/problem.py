"""The what-if's problem: the one every matching run builds, cut down to the outage.

`without_lost_capacity` takes the lost factories' hours in the lost weeks out;
`only_hit_lines` keeps the jobs of the lines the outage hits (the affected orders' other
lines keep their proposals, whose hours are then not free); `pickup_of` says which
factories get hours they did not have.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from factories.capacity.hours import quantize_hours
from factories.capacity.weeks import week_label
from factories.models import CapacityBucket, id_of
from marketplace.operator.whatif.target import Outage
from marketplace.orders.models import Proposal, ProposalSlot, ProposalState, SlotState
from marketplace.orders.runs.problem import capacity_line_id, line_id_of, parse_capacity_line


def without_lost_capacity(problem: dict[str, Any], outage: Outage) -> dict[str, Any]:
    """The problem with the lost factories' capacity in the lost weeks taken out."""
    lost, periods = set(outage.factory_ids), outage.periods
    factories = []
    for entry in problem["factories"]:
        factory_id, _ = parse_capacity_line(entry["id"])
        if factory_id in lost:
            entry = {
                **entry,
                "capacity": [c for c in entry["capacity"] if c["period"] not in periods],
            }
        factories.append(entry)
    return {**problem, "factories": factories}


def only_hit_lines(
    problem: dict[str, Any],
    previous: dict[str, Any],
    hit_lines: set[int],
    held_elsewhere: dict[tuple[str, str], float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem and previous plan of the hit lines alone: the affected orders' other
    lines keep their proposals, so the hours those hold are not free for the re-plan."""
    jobs = [j for j in problem["jobs"] if line_id_of(j["id"]) in hit_lines]
    factories = []
    for entry in problem["factories"]:
        capacity = []
        for c in entry["capacity"]:
            hours = c["hours"] - held_elsewhere.get((entry["id"], c["period"]), 0.0)
            if hours > 1e-6:
                capacity.append({**c, "hours": round(hours, 2)})
        factories.append({**entry, "capacity": capacity})
    kept = [a for a in previous["assignments"] if line_id_of(a["job"]) in hit_lines]
    return {**problem, "jobs": jobs, "factories": factories}, {**previous, "assignments": kept}


def held_by_other_lines(
    session: Session, proposals: list[Proposal], reopened: set[int], hit_lines: set[int]
) -> dict[tuple[str, str], float]:
    """Hours of (capacity line, week) held by pending proposals of lines not hit (build_problem
    counted them as free, since a re-match of the whole order may move them)."""
    ids = [
        id_of(p)
        for p in proposals
        if p.order_line_id not in hit_lines
        and (p.state == ProposalState.PENDING or id_of(p) in reopened)
    ]
    held: dict[tuple[str, str], float] = defaultdict(float)
    if not ids:
        return held
    for factory_id, resource, week, hours in session.execute(
        sa.select(
            col(CapacityBucket.factory_id),
            col(CapacityBucket.resource),
            col(CapacityBucket.point_in_time),
            col(ProposalSlot.hours),
        )
        .join(ProposalSlot, col(ProposalSlot.bucket_id) == col(CapacityBucket.id))
        .where(
            col(ProposalSlot.proposal_id).in_(ids),
            col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
        )
    ).all():
        held[(capacity_line_id(factory_id, resource), week_label(week))] += float(hours)
    return held


def pickup_of(previous: dict[str, Any], plan: dict[str, Any]) -> dict[int, Decimal]:
    """Hours each real factory gets in the plan beyond what it had for the same job."""
    had: dict[tuple[str, str], float] = defaultdict(float)
    for a in previous["assignments"]:
        had[(a["job"], a["factory"])] += a["hours"]
    gets: dict[tuple[str, str], float] = defaultdict(float)
    for a in plan["assignments"]:
        gets[(a["job"], a["factory"])] += a["hours"]
    pickup: dict[int, Decimal] = defaultdict(Decimal)
    for key, hours in gets.items():
        more = hours - had.get(key, 0.0)
        if more > 0.005:
            factory_id, _ = parse_capacity_line(key[1])
            pickup[factory_id] += quantize_hours(more)
    return pickup
