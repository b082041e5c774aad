"""From a run's plan to proposals holding capacity.

A plan becomes proposals, one per (order line, factory), each holding its hours in the
buckets (factory, process, week) it uses. A hold that no longer fits (someone else
booked the hours since the problem was built) is refused: that work stays unplaced, it is
never squeezed in, and the order is re-matched on fresh capacity (at most
`MAX_REFUSAL_RETRIES` times in a row). A re-match keeps every pending proposal whose
slots the new plan leaves as they were; the others are superseded and their holds
released. Plan hours are rounded to whole cents of an hour without over-filling any
bucket (`round_to_cents`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ortools.graph.python import max_flow
from sqlmodel import Session, col, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.capacity.weeks import monday_of_week_label
from factories.fit import price_minor
from factories.models import CapacityBucket, among, id_of
from marketplace.orders import coverage as coverage_of
from marketplace.orders.coverage import work_of_lines
from marketplace.orders.models import (
    MatchRun,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.notify import events
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.proposals import lost
from marketplace.orders.proposals.explain import add_engine_explanations, explanation
from marketplace.orders.proposals.parties import factory_organizations, tell_parties
from marketplace.orders.proposals.settling import settle_after_run
from marketplace.orders.proposals.unplaced import unplaced_lines
from marketplace.orders.runs.problem import BuiltProblem, job_id, line_id_of, parse_capacity_line
from marketplace.orders.runs.service import run_orders

# A run whose holds were refused (others booked the hours meanwhile) re-matches the
# orders concerned on fresh capacity, at most this many times in a row.
MAX_REFUSAL_RETRIES = 3


@dataclass
class _Wanted:
    line_id: int
    factory_id: int
    slots: list[tuple[int, Decimal]]  # (bucket id, hours)
    rates: dict[int, int]  # bucket id -> hourly rate (minor units)
    weeks: dict[int, str]  # bucket id -> ISO week


def round_to_cents(
    parts: list[tuple[str, tuple[str, str], float]], capacity: dict[tuple[str, str], int]
) -> list[int]:
    """Hours of plan assignments in whole cents of an hour (controlled rounding).

    `parts` are (job, bucket, hours); each job's parts add up to its total rounded to the
    cent, and no bucket is given more cents than `capacity` (its free cents in the
    problem). Which parts round up is a flow problem: every job sends the cents it is
    short to its buckets, one per part at most, and a bucket takes no more than the
    cents left under its capacity. Because the plan itself fits, such a rounding exists
    and the maximum flow finds it; choosing greedily does not (a job taking the last
    cent of a bucket another job needed more).
    """
    cents = [math.floor(h * 100 + 1e-6) for _, _, h in parts]
    used: dict[tuple[str, str], int] = defaultdict(int)
    by_job: dict[str, list[int]] = defaultdict(list)
    for i, (job, bucket, _) in enumerate(parts):
        used[bucket] += cents[i]
        by_job[job].append(i)
    need = {
        job: round(sum(parts[i][2] for i in indices) * 100) - sum(cents[i] for i in indices)
        for job, indices in by_job.items()
    }
    short = sorted(job for job, n in need.items() if n > 0)
    if not short:
        return cents
    buckets = sorted({parts[i][1] for job in short for i in by_job[job]})
    source, sink = 0, 1
    job_node = {job: 2 + k for k, job in enumerate(short)}
    bucket_node = {bucket: 2 + len(short) + k for k, bucket in enumerate(buckets)}
    flow = max_flow.SimpleMaxFlow()
    for job in short:
        flow.add_arc_with_capacity(source, job_node[job], need[job])
    part_arcs = {}
    for job in short:
        for i in sorted(by_job[job], key=lambda i: cents[i] - parts[i][2] * 100):
            part_arcs[i] = flow.add_arc_with_capacity(job_node[job], bucket_node[parts[i][1]], 1)
    for bucket in buckets:
        room = max(0, capacity.get(bucket, 0) - used[bucket])
        flow.add_arc_with_capacity(bucket_node[bucket], sink, room)
    flow.solve(source, sink)
    for i, arc in part_arcs.items():
        if flow.flow(arc):
            cents[i] += 1
            need[parts[i][0]] -= 1
    # Cents no bucket had room for (the plan overfilled a bucket by less than a cent) go
    # to the largest remainders; the hold that no longer fits is refused, never forced.
    for job in short:
        ranked = sorted(by_job[job], key=lambda i: cents[i] - parts[i][2] * 100)
        for k in range(need[job]):
            cents[ranked[k % len(ranked)]] += 1
    return cents


def _wanted_slots(
    session: Session, built: BuiltProblem, plan: dict[str, Any], line_ids: set[int]
) -> dict[tuple[int, int], _Wanted]:
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in plan.get("assignments", []):
        if line_id_of(a["job"]) in line_ids and a["hours"] > 0:
            by_job[a["job"]].append(a)
    keys = set()
    for assignments in by_job.values():
        for a in assignments:
            factory_id, resource = parse_capacity_line(a["factory"])
            keys.add((factory_id, resource, monday_of_week_label(a["period"])))
    buckets: dict[tuple[int, str, Any], int] = {}
    if keys:
        for bucket in session.exec(
            select(CapacityBucket).where(
                col(CapacityBucket.factory_id).in_(sorted({k[0] for k in keys})),
                col(CapacityBucket.resource).in_(sorted({k[1] for k in keys})),
                col(CapacityBucket.point_in_time).in_(sorted({k[2] for k in keys})),
            )
        ).all():
            buckets[(bucket.factory_id, bucket.resource, bucket.point_in_time)] = id_of(bucket)
    capacity = {
        (f["id"], c["period"]): math.floor(c["hours"] * 100 + 1e-6)
        for f in built.problem["factories"]
        for c in f["capacity"]
    }
    parts = [
        (job, (a["factory"], a["period"]), a["hours"])
        for job, assignments in sorted(by_job.items())
        for a in assignments
    ]
    cents = iter(round_to_cents(parts, capacity))
    wanted: dict[tuple[int, int], _Wanted] = {}
    for job, assignments in sorted(by_job.items()):
        candidates = built.candidates.get(job, {})
        for a in assignments:
            h = Decimal(next(cents)) / 100
            if h <= 0:
                continue
            factory_id, resource = parse_capacity_line(a["factory"])
            bucket_id = buckets.get((factory_id, resource, monday_of_week_label(a["period"])))
            candidate = candidates.get(a["factory"])
            if bucket_id is None or candidate is None:
                continue  # the bucket vanished since the problem was built
            key = (line_id_of(job), factory_id)
            entry = wanted.setdefault(key, _Wanted(key[0], factory_id, [], {}, {}))
            entry.slots.append((bucket_id, h))
            entry.rates[bucket_id] = candidate.hourly_rate_minor
            entry.weeks[bucket_id] = a["period"]
    return wanted


def apply_plan(
    session: Session,
    run: MatchRun,
    built: BuiltProblem,
    plan: dict[str, Any],
    *,
    now: datetime,
    deadline: timedelta,
) -> dict[str, Any]:
    """Make the run's plan real for its orders still waiting on it; returns what happened."""
    orders = [
        o
        for o in lock_orders(session, run_orders(session, id_of(run)))
        if o.state == OrderState.MATCHING
    ]
    order_ids = [id_of(o) for o in orders]
    by_id = {id_of(o): o for o in orders}
    lines = {
        id_of(line): line
        for line in session.exec(
            select(OrderLine).where(among(col(OrderLine.order_id), order_ids))
        ).all()
    }
    accepted, pending = work_of_lines(session, order_ids)
    wanted = _wanted_slots(session, built, plan, set(lines))
    attempt = int((run.outcome or {}).get("attempt", 0))
    outcome: dict[str, Any] = {
        "created": 0,
        "kept": 0,
        "superseded": 0,
        "holds_refused": 0,
        "unplaced_hours": 0.0,
    }
    refused_orders: set[int] = set()
    factories_wanted: dict[int, list[int]] = defaultdict(list)  # line id -> factory ids
    for line_id, factory_id in sorted(wanted):
        factories_wanted[line_id].append(factory_id)

    changes: list[BucketChange] = []
    superseded: list[Proposal] = []
    to_hold: list[tuple[_Wanted, list[int]]] = []  # wanted entry, indices into `changes`
    for line_id, line in sorted(lines.items()):
        live = line.hours - accepted.get(line_id, Decimal(0))
        for proposal, slots in pending.get(line_id, []):
            want = wanted.get((line_id, proposal.factory_id))
            have = sorted((s.bucket_id, s.hours) for s in slots)
            if want is not None and sorted(want.slots) == have:
                wanted.pop((line_id, proposal.factory_id))
                outcome["kept"] += 1
                live -= proposal.hours
                continue
            proposal.state = ProposalState.SUPERSEDED
            proposal.decided_at = now
            superseded.append(proposal)
            for slot in slots:
                slot.state = SlotState.RELEASED
                changes.append(BucketChange(slot.bucket_id, ChangeKind.RELEASE, slot.hours))
        # New work for the line, never more than what is still uncovered.
        for factory_id in factories_wanted.get(line_id, []):
            entry = wanted.get((line_id, factory_id))
            if entry is None:  # a pending proposal kept as it was
                continue
            trimmed = []
            for bucket_id, hours in entry.slots:
                take = min(hours, live)
                if take <= 0:
                    break
                trimmed.append((bucket_id, take))
                live -= take
            entry.slots = trimmed
            indices = []
            for bucket_id, hours in trimmed:
                indices.append(len(changes))
                changes.append(BucketChange(bucket_id, ChangeKind.HOLD, hours))
            to_hold.append((entry, indices))
    done = apply_changes(session, changes)
    outcome["superseded"] = len(superseded)

    deadline_at = now + deadline
    created: list[Proposal] = []
    held_slots: list[list[tuple[int, Decimal]]] = []
    for entry, indices in to_hold:
        held = [(entry.slots[k], i) for k, i in enumerate(indices) if done[i]]
        line = lines[entry.line_id]
        if len(held) < len(indices):
            outcome["holds_refused"] += len(indices) - len(held)
            refused_orders.add(line.order_id)
        if not held:
            continue
        hours = sum((h for (_, h), _ in held), Decimal(0))
        hours_at_rate: dict[int, Decimal] = defaultdict(Decimal)
        for (bucket_id, h), _ in held:
            hours_at_rate[entry.rates[bucket_id]] += h
        # Priced like the problem's options: the hours at one rate, rounded once.
        price = sum(price_minor(h, rate) for rate, h in sorted(hours_at_rate.items()))
        order = by_id[line.order_id]
        proposal = Proposal(
            match_run_id=id_of(run),
            order_id=line.order_id,
            order_line_id=entry.line_id,
            factory_id=entry.factory_id,
            hours=hours,
            price_minor=price,
            currency=order.currency,
            explanation=explanation(
                built,
                job_id(entry.line_id),
                entry.factory_id,
                [entry.weeks[bucket_id] for (bucket_id, _), _ in held],
                order,
            ),
            expires_at=deadline_at,
            created_at=now,
        )
        created.append(proposal)
        held_slots.append([slot for slot, _ in held])
    # Explained before they are written: one insert each, never an update after.
    add_engine_explanations(built, plan, created)
    # All proposals in one flush (batched inserts), then all their slots.
    session.add_all(created)
    session.flush()
    session.add_all(
        [
            ProposalSlot(proposal_id=id_of(proposal), bucket_id=bucket_id, hours=h)
            for proposal, slots in zip(created, held_slots, strict=True)
            for bucket_id, h in slots
        ]
    )
    outcome["created"] = len(created)
    session.flush()
    # Options of the applied lines that got nothing: factories see why in "lost work".
    outcome["lost"] = lost.record_lost_work(
        session,
        id_of(run),
        built.problem,
        lines,
        now,
    )

    factory_orgs = factory_organizations(session, {p.factory_id for p in created + superseded})
    for proposal in superseded:
        events.notify(
            session,
            [factory_orgs[proposal.factory_id]],
            "proposal.superseded",
            order_id=proposal.order_id,
            proposal_id=proposal.id,
        )
    created_for: dict[int, list[Proposal]] = defaultdict(list)
    for proposal in created:
        created_for[proposal.order_id].append(proposal)
    told = {o.buyer_organization_id for o in orders if id_of(o) in created_for}
    with events.endpoints_known(session, told | set(factory_orgs.values())):
        for order in orders:
            mine = created_for.get(id_of(order))
            if mine:
                tell_parties(
                    session,
                    order,
                    events.ORDER_PROPOSED,
                    mine,
                    factory_orgs,
                    buyer_notice="order.proposed",
                    factory_notice="proposal.received",
                )
    by_order = coverage_of.coverage_by_order(session, order_ids)
    covered = {line: c for lines_of in by_order.values() for line, c in lines_of.items()}
    outcome["unplaced_hours"] = float(sum((c.unplaced for c in covered.values()), Decimal(0)))
    outcome["unplaced"] = unplaced_lines(session, built, plan, lines, by_id, covered)
    if attempt < MAX_REFUSAL_RETRIES:
        for order in orders:
            if order.id in refused_orders:
                order.rematch_requested = True
    settle_after_run(
        session, orders, run, attempt=attempt + 1 if refused_orders else 0, covered=by_order
    )
    outcome["attempt"] = attempt
    return outcome
