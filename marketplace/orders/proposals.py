"""Proposals: turning a plan into held capacity, and the factories' answers to it.

Every path that changes the proposals of an order first locks the order row (in id
order when there are several), so accepting, declining, expiring, cancelling and
applying a run's plan never interleave on one order; capacity itself changes through
factories.booking, whose conditional updates make over-booking impossible even across
orders.

* A plan becomes proposals, one per (order line, factory), each holding its hours in
  the buckets (factory, process, week) it uses. A hold that no longer fits (someone
  else booked the hours since the problem was built) is skipped: that work stays
  unplaced, it is never squeezed in.
* A re-match keeps every pending proposal whose slots the new plan leaves as they were;
  the others are superseded and their holds released.
* Accepting confirms the held hours; declining or expiring releases them and starts a
  re-match of the order (or asks the run in flight to start one when it ends).
* When nothing is pending any more, the order is confirmed if every hour is accepted,
  and goes back to open otherwise.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ortools.graph.python import max_flow
from sqlmodel import Session, select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.capacity.weeks import monday_of_week_label
from factories.errors import N_
from factories.models import CapacityBucket, Factory, utcnow
from marketplace.accounts.service import Principal
from marketplace.orders import events, lost
from marketplace.orders.eligibility import (
    BuiltProblem,
    job_id,
    line_id_of,
    parse_capacity_line,
    work_of_lines,
)
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.runs import lock_orders, run_orders, start_run
from marketplace.orders.service import Conflict, NotFound, OrderError
from marketplace.orders.transitions import move

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
# A run whose holds were refused (others booked the hours meanwhile) re-matches the
# orders concerned on fresh capacity, at most this many times in a row.
MAX_REFUSAL_RETRIES = 3
MAX_NOTE = 500  # a factory's reason for declining (Proposal.decision_note)
# What a factory sees of the engine's account of a job: its own capacity lines only, and
# of those only what is about itself (never a reference to, or the price of, another).
ENGINE_CHOSEN_FIELDS = (
    "factory",
    "reason",
    "hours",
    "share",
    "cost",
    "option_cost",
    "lead_periods",
    "credit",
    "detail",
)
ENGINE_OTHER_FIELDS = ("factory", "reason", "option_cost", "lead_periods", "credit", "free_hours")


# --- who may see and answer a proposal ---


def proposal_for(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    """A proposal the principal may see: the factory's own, or any of the buyer's order."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    if principal.is_operator:
        return proposal
    if principal.is_factory:
        factory = session.get(Factory, proposal.factory_id)
        if factory is not None and principal.acts_for(factory.organization_id):
            return proposal
        raise NotFound(f"proposal {proposal_id}")
    order = session.get(Order, proposal.order_id)
    if order is not None and principal.acts_for(order.buyer_organization_id):
        return proposal
    raise NotFound(f"proposal {proposal_id}")


def own_proposal(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    """A proposal to one of the principal's factories (only they may answer it)."""
    proposal = proposal_for(session, principal, proposal_id)
    factory = session.get(Factory, proposal.factory_id)
    if (
        not principal.is_factory
        or factory is None
        or not principal.acts_for(factory.organization_id)
    ):
        raise NotFound(f"proposal {proposal_id}")
    return proposal


def proposals_of_factories(
    session: Session, organization_id: int, state: str | None = None, limit: int = 200
) -> list[Proposal]:
    query = (
        select(Proposal)
        .join(Factory, Factory.id == Proposal.factory_id)
        .where(Factory.organization_id == organization_id)
        .order_by(Proposal.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    if state:
        query = query.where(Proposal.state == state)
    return list(session.exec(query).all())


def proposals_of_order(session: Session, principal: Principal, order: Order) -> list[Proposal]:
    """All proposals of the order for its buyer and operators; a factory's own otherwise."""
    query = select(Proposal).where(Proposal.order_id == order.id).order_by(Proposal.id)
    if not (principal.is_operator or principal.acts_for(order.buyer_organization_id)):
        query = query.join(Factory, Factory.id == Proposal.factory_id).where(
            Factory.organization_id == principal.organization_id
        )
    return list(session.exec(query).all())


def slots_of(session: Session, proposal_ids: list[int]) -> dict[int, list[ProposalSlot]]:
    result: dict[int, list[ProposalSlot]] = defaultdict(list)
    if proposal_ids:
        for slot in session.exec(
            select(ProposalSlot)
            .where(ProposalSlot.proposal_id.in_(proposal_ids))  # type: ignore[attr-defined]
            .order_by(ProposalSlot.id)
        ).all():
            result[slot.proposal_id].append(slot)
    return result


# --- from a plan to proposals ---


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
                CapacityBucket.factory_id.in_(sorted({k[0] for k in keys})),  # type: ignore[attr-defined]
                CapacityBucket.resource.in_(sorted({k[1] for k in keys})),  # type: ignore[attr-defined]
                CapacityBucket.point_in_time.in_(sorted({k[2] for k in keys})),  # type: ignore[attr-defined]
            )
        ).all():
            buckets[(bucket.factory_id, bucket.resource, bucket.point_in_time)] = bucket.id  # type: ignore[assignment]
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
        for o in lock_orders(session, run_orders(session, run.id))
        if o.state == OrderState.MATCHING  # type: ignore[arg-type]
    ]
    order_ids = [o.id for o in orders]
    by_id = {o.id: o for o in orders}
    lines = {
        line.id: line
        for line in session.exec(
            select(OrderLine).where(OrderLine.order_id.in_(order_ids))  # type: ignore[attr-defined]
        ).all()
    }
    accepted, pending = work_of_lines(session, order_ids)  # type: ignore[arg-type]
    wanted = _wanted_slots(session, built, plan, set(lines))  # type: ignore[arg-type]
    attempt = int((run.outcome or {}).get("attempt", 0))
    outcome = {"created": 0, "kept": 0, "superseded": 0, "holds_refused": 0, "unplaced_hours": 0.0}
    refused_orders: set[int] = set()

    changes: list[BucketChange] = []
    superseded: list[Proposal] = []
    to_hold: list[tuple[_Wanted, list[int]]] = []  # wanted entry, indices into `changes`
    for line_id, line in sorted(lines.items()):
        live = line.hours - accepted.get(line_id, Decimal(0))  # type: ignore[arg-type]
        for proposal, slots in pending.get(line_id, []):  # type: ignore[arg-type]
            want = wanted.get((line_id, proposal.factory_id))  # type: ignore[arg-type]
            have = sorted((s.bucket_id, s.hours) for s in slots)
            if want is not None and sorted(want.slots) == have:
                wanted.pop((line_id, proposal.factory_id))  # type: ignore[arg-type]
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
        for key in sorted(k for k in wanted if k[0] == line_id):
            entry = wanted[key]
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
    for entry, indices in to_hold:
        held = [(entry.slots[k], i) for k, i in enumerate(indices) if done[i]]
        line = lines[entry.line_id]
        if len(held) < len(indices):
            outcome["holds_refused"] += len(indices) - len(held)
            refused_orders.add(line.order_id)
        if not held:
            continue
        hours = sum((h for (_, h), _ in held), Decimal(0))
        price = sum(
            (h * entry.rates[bucket_id] for (bucket_id, h), _ in held), Decimal(0)
        ).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        order = by_id[line.order_id]
        proposal = Proposal(
            match_run_id=run.id,  # type: ignore[arg-type]
            order_id=line.order_id,
            order_line_id=entry.line_id,
            factory_id=entry.factory_id,
            hours=hours,
            price_minor=int(price),
            currency=order.currency,
            explanation=explanation(built, job_id(entry.line_id), entry, held, order),
            expires_at=deadline_at,
            created_at=now,
        )
        session.add(proposal)
        session.flush()
        for (bucket_id, h), _ in held:
            session.add(ProposalSlot(proposal_id=proposal.id, bucket_id=bucket_id, hours=h))  # type: ignore[arg-type]
        created.append(proposal)
    outcome["created"] = len(created)
    session.flush()
    _engine_explanations(built, plan, created)
    # Options of the applied lines that got nothing: factories see why in "lost work".
    outcome["lost"] = lost.record_lost_work(
        session,
        run.id,  # type: ignore[arg-type]
        built.problem,
        lines,  # type: ignore[arg-type]
        now,
    )

    factory_orgs = _factory_organizations(session, {p.factory_id for p in created + superseded})
    for proposal in superseded:
        events.notify(
            session,
            [factory_orgs[proposal.factory_id]],
            "proposal.superseded",
            order_id=proposal.order_id,
            proposal_id=proposal.id,
        )
    for order in orders:
        mine = [p for p in created if p.order_id == order.id]
        if mine:
            _tell_parties(
                session,
                order,
                events.ORDER_PROPOSED,
                mine,
                factory_orgs,
                buyer_notice="order.proposed",
                factory_notice="proposal.received",
            )
    outcome["unplaced_hours"] = float(
        sum((c.unplaced for c in coverage(session, order_ids).values()), Decimal(0))  # type: ignore[arg-type]
    )
    if attempt < MAX_REFUSAL_RETRIES:
        for order in orders:
            if order.id in refused_orders:
                order.rematch_requested = True
    settle_after_run(session, orders, run, attempt=attempt + 1 if refused_orders else 0)
    outcome["attempt"] = attempt
    return outcome


def explanation(
    built: BuiltProblem,
    job: str,
    entry: _Wanted,
    held: list[tuple[tuple[int, Decimal], int]],
    order: Order,
) -> dict[str, Any]:
    """Why this factory got this work, in terms that reveal nothing about other factories'
    prices: how many factories were eligible and where this one ranked on price."""
    candidates = built.candidates.get(job, {})
    mine = [c for c in candidates.values() if c.factory_id == entry.factory_id]
    cheapest_per_factory: dict[int, int] = {}
    for c in candidates.values():
        rate = cheapest_per_factory.get(c.factory_id)
        cheapest_per_factory[c.factory_id] = (
            c.hourly_rate_minor if rate is None else min(rate, c.hourly_rate_minor)
        )
    my_rate = min((c.hourly_rate_minor for c in mine), default=0)
    rank = 1 + sum(1 for r in cheapest_per_factory.values() if r < my_rate)
    job_data = built.job(job)
    periods = sorted({entry.weeks[bucket_id] for (bucket_id, _), _ in held})
    first = mine[0] if mine else None
    return {
        "job": job,
        "resources": sorted({c.resource for c in mine}),
        "weeks": periods,
        "hourly_rate_minor": my_rate,
        "eligible_factories": len(cheapest_per_factory),
        "price_rank": rank,
        "credit": first.credit if first else None,
        "min_credit": order.min_credit,
        "distance_km": first.distance_km if first else None,
        "lead_weeks": first.lead_periods if first else None,
        "due_week": job_data.get("due_period"),
        "splittable": job_data.get("splittable", False),
        "checks": ["capability", "material", "envelope", "tolerance", "certifications", "credit"],
    }


def _engine_explanations(
    built: BuiltProblem, plan: dict[str, Any], created: list[Proposal]
) -> None:
    """Add the engine's own account of each job to the run's new proposals.

    Each job is explained against its own part of the problem (its options, their
    capacity, the hours the rest of the plan uses there): a few milliseconds a job
    whatever the size of the run, where explaining against the whole problem compiles
    all of it again for every job."""
    if not created:
        return
    explainer = lost.RunExplainer(built.problem, plan)
    cache: dict[str, dict[str, Any] | None] = {}
    for proposal in created:
        job = job_id(proposal.order_line_id)
        if job not in cache:
            try:
                cache[job] = explainer.explain(job)
            except Exception:  # an engine that cannot explain its plan should not stop it
                log.exception("run %s: no engine explanation of %s", proposal.match_run_id, job)
                cache[job] = None
        if cache[job] is not None:
            proposal.explanation = {**proposal.explanation, "engine": cache[job]}


def explanation_for(principal: Principal, proposal: Proposal) -> dict[str, Any]:
    """The proposal's explanation as the principal may see it (`proposal_for` decided
    that it may see the proposal): all of it for the buyer and operators; for the
    factory, the engine's account restricted to its own capacity lines."""
    explanation = dict(proposal.explanation or {})
    engine = explanation.get("engine")
    if principal.is_factory and engine is not None:
        explanation["engine"] = engine_for_factory(engine, proposal.factory_id)
    return explanation


def engine_for_factory(engine: dict[str, Any], factory_id: int) -> dict[str, Any]:
    """The engine's account of a job as one factory may see it: why its own capacity
    lines were chosen (hours, share, its cost, shipping time, credit) or not (the reason
    alone), and nothing of any other factory: competitors share the platform."""

    def own(entry: dict[str, Any]) -> bool:
        try:
            return parse_capacity_line(str(entry.get("factory", "")))[0] == factory_id
        except ValueError:
            return False

    return {
        "job": engine.get("job"),
        "hours": engine.get("hours"),
        "chosen": [
            {k: e[k] for k in ENGINE_CHOSEN_FIELDS if k in e}
            for e in engine.get("chosen", [])
            if own(e)
        ],
        "not_chosen": [
            {k: e[k] for k in ENGINE_OTHER_FIELDS if k in e}
            for e in engine.get("not_chosen", [])
            if own(e)
        ],
    }


def _factory_organizations(session: Session, factory_ids: set[int]) -> dict[int, int]:
    if not factory_ids:
        return {}
    return dict(
        session.exec(
            select(Factory.id, Factory.organization_id).where(Factory.id.in_(sorted(factory_ids)))  # type: ignore[union-attr]
        ).all()
    )


def _tell_parties(
    session: Session,
    order: Order,
    event: str,
    proposals: list[Proposal],
    factory_orgs: dict[int, int],
    *,
    buyer_notice: str,
    factory_notice: str,
    **buyer_data: Any,
) -> None:
    """Notify and publish `event` to the buyer (every proposal, with `buyer_data`) and to
    each factory organization (its own proposals only: never another's work or prices)."""
    events.notify(
        session,
        [order.buyer_organization_id],
        buyer_notice,
        order_id=order.id,
        title=order.title,
        proposals=len(proposals),
    )
    events.publish(
        session,
        order.buyer_organization_id,
        event,
        {
            "order_id": order.id,
            "state": order.state,
            **buyer_data,
            "proposals": [proposal_data(p) for p in proposals],
        },
    )
    by_org: dict[int, list[Proposal]] = defaultdict(list)
    for p in proposals:
        by_org[factory_orgs[p.factory_id]].append(p)
    for organization_id, mine in sorted(by_org.items()):
        events.notify(
            session,
            [organization_id],
            factory_notice,
            order_id=order.id,
            title=order.title,
            proposals=len(mine),
        )
        events.publish(
            session,
            organization_id,
            event,
            {"order_id": order.id, "proposals": [proposal_data(p) for p in mine]},
        )


def proposal_data(proposal: Proposal) -> dict[str, Any]:
    return {
        "proposal_id": proposal.id,
        "order_line_id": proposal.order_line_id,
        "factory_id": proposal.factory_id,
        "state": proposal.state,
        "hours": str(proposal.hours),
        "price_minor": proposal.price_minor,
        "currency": proposal.currency,
        "expires_at": proposal.expires_at.isoformat(),
    }


# --- settling an order ---


def settle_after_run(
    session: Session, orders: list[Order], run: MatchRun, attempt: int = 0
) -> None:
    """After a run (or its failure): start the re-match that a decline, or holds refused
    by a concurrent booking, asked for; settle the other orders."""
    for order in orders:
        if order.rematch_requested:
            follow_up = start_run(
                session,
                [order],
                kind=MatchRunKind.REMATCH,
                organization_id=order.buyer_organization_id,
                time_limit_s=run.time_limit_s,
                requeue=True,
            )
            follow_up.outcome = {"attempt": attempt}
        else:
            settle(session, order)


def settle(session: Session, order: Order) -> None:
    """Put a matching or proposed order where its proposals say it is."""
    lines = coverage(session, [order.id]).values()  # type: ignore[list-item]
    if any(c.pending for c in lines):
        target = OrderState.PROPOSED
    elif all(c.accepted >= c.hours for c in lines):
        target = OrderState.CONFIRMED
    else:
        target = OrderState.OPEN
    if order.state == target:
        return
    move(order, target)
    order.updated_at = utcnow()
    if target == OrderState.CONFIRMED:
        _confirm(session, order)
    elif target == OrderState.OPEN:
        unplaced = sum((c.unplaced for c in lines), Decimal(0))
        events.notify(
            session,
            [order.buyer_organization_id],
            "order.unplaced",
            order_id=order.id,
            title=order.title,
            hours=str(unplaced),
        )


def _confirm(session: Session, order: Order) -> None:
    """Every hour is accepted. Escrow payment will be captured here, before the events."""
    order.confirmed_at = utcnow()
    proposals = list(
        session.exec(
            select(Proposal).where(
                Proposal.order_id == order.id, Proposal.state == ProposalState.ACCEPTED
            )
        ).all()
    )
    _tell_parties(
        session,
        order,
        events.ORDER_CONFIRMED,
        proposals,
        _factory_organizations(session, {p.factory_id for p in proposals}),
        buyer_notice="order.confirmed",
        factory_notice="order.confirmed",
        price_minor=sum(p.price_minor for p in proposals),
        currency=order.currency,
    )


# --- the factories' answers ---------------------------------------------------------------


def _locked(session: Session, proposal: Proposal) -> tuple[Order, Proposal]:
    [order] = lock_orders(session, [proposal.order_id])
    fresh = session.exec(
        select(Proposal).where(Proposal.id == proposal.id).execution_options(populate_existing=True)
    ).one()
    return order, fresh


def _held_slots(session: Session, proposal: Proposal, state: SlotState) -> list[ProposalSlot]:
    return list(
        session.exec(
            select(ProposalSlot)
            .where(ProposalSlot.proposal_id == proposal.id, ProposalSlot.state == state)
            .order_by(ProposalSlot.bucket_id)
            .execution_options(populate_existing=True)
        ).all()
    )


def accept(
    session: Session, principal: Principal, proposal_id: int, now: datetime | None = None
) -> Proposal:
    now = now or utcnow()
    order, proposal = _locked(session, own_proposal(session, principal, proposal_id))
    if proposal.state != ProposalState.PENDING:
        raise Conflict(N_("the proposal is already %(state)s", state=proposal.state))
    if proposal.expires_at <= now:
        raise Conflict(N_("the deadline to answer this proposal has passed"))
    slots = _held_slots(session, proposal, SlotState.HELD)
    apply_changes(session, [BucketChange(s.bucket_id, ChangeKind.CONFIRM, s.hours) for s in slots])
    for slot in slots:
        slot.state = SlotState.CONFIRMED
    proposal.state = ProposalState.ACCEPTED
    proposal.decided_at = now
    events.notify(
        session,
        [order.buyer_organization_id],
        "proposal.accepted",
        order_id=order.id,
        title=order.title,
        proposal_id=proposal.id,
    )
    if order.state == OrderState.PROPOSED:
        settle(session, order)
    session.flush()
    return proposal


def decline(
    session: Session,
    principal: Principal,
    proposal_id: int,
    note: str = "",
    now: datetime | None = None,
) -> Proposal:
    now = now or utcnow()
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise OrderError("note", N_("must be at most %(maximum)s characters", maximum=MAX_NOTE))
    order, proposal = _locked(session, own_proposal(session, principal, proposal_id))
    if proposal.state != ProposalState.PENDING:
        raise Conflict(N_("the proposal is already %(state)s", state=proposal.state))
    _refuse(session, order, [proposal], ProposalState.DECLINED, now, note=note)
    return proposal


def _refuse(
    session: Session,
    order: Order,
    proposals: list[Proposal],
    state: ProposalState,
    now: datetime,
    note: str = "",
) -> None:
    """Decline or expire pending proposals of one (locked) order and re-match their work."""
    changes = []
    for proposal in proposals:
        for slot in _held_slots(session, proposal, SlotState.HELD):
            slot.state = SlotState.RELEASED
            changes.append(BucketChange(slot.bucket_id, ChangeKind.RELEASE, slot.hours))
        proposal.state = state
        proposal.decided_at = now
        proposal.decision_note = note
    apply_changes(session, changes)
    kind = "proposal.declined" if state == ProposalState.DECLINED else "proposal.expired"
    events.notify(
        session,
        [order.buyer_organization_id],
        kind,
        order_id=order.id,
        title=order.title,
        proposals=len(proposals),
    )
    if state == ProposalState.EXPIRED:
        factory_orgs = _factory_organizations(session, {p.factory_id for p in proposals})
        events.notify(
            session,
            factory_orgs.values(),
            "proposal.expired",
            order_id=order.id,
            title=order.title,
            proposals=len(proposals),
        )
    if order.state == OrderState.PROPOSED:
        start_run(
            session,
            [order],
            kind=MatchRunKind.REMATCH,
            organization_id=order.buyer_organization_id,
        )
    elif order.state == OrderState.MATCHING:
        order.rematch_requested = True
    session.flush()


def expire_due(
    session: Session,
    now: datetime | None = None,
    limit: int = 500,
    order_id: int | None = None,
) -> int:
    """Expire pending proposals past their deadline, order by order (or of one order);
    returns how many."""
    now = now or utcnow()
    query = select(Proposal.order_id).where(
        Proposal.state == ProposalState.PENDING, Proposal.expires_at <= now
    )
    if order_id is not None:
        query = query.where(Proposal.order_id == order_id)
    due = session.exec(query.distinct().limit(limit)).all()
    if not due:
        return 0
    expired = 0
    for order in lock_orders(session, list(due)):
        proposals = list(
            session.exec(
                select(Proposal)
                .where(
                    Proposal.order_id == order.id,
                    Proposal.state == ProposalState.PENDING,
                    Proposal.expires_at <= now,
                )
                .order_by(Proposal.id)
                .execution_options(populate_existing=True)
            ).all()
        )
        if proposals:
            _refuse(session, order, proposals, ProposalState.EXPIRED, now)
            expired += len(proposals)
    return expired


def withdraw_all(session: Session, order: Order, now: datetime) -> int:
    """The buyer cancelled: give back every hour the order holds or booked."""
    proposals = list(
        session.exec(
            select(Proposal)
            .where(
                Proposal.order_id == order.id,
                Proposal.state.in_((ProposalState.PENDING, ProposalState.ACCEPTED)),  # type: ignore[attr-defined]
            )
            .execution_options(populate_existing=True)
        ).all()
    )
    changes = []
    for proposal in proposals:
        for slot in session.exec(
            select(ProposalSlot)
            .where(
                ProposalSlot.proposal_id == proposal.id,
                ProposalSlot.state.in_((SlotState.HELD, SlotState.CONFIRMED)),  # type: ignore[attr-defined]
            )
            .execution_options(populate_existing=True)
        ).all():
            kind = ChangeKind.RELEASE if slot.state == SlotState.HELD else ChangeKind.UNBOOK
            changes.append(BucketChange(slot.bucket_id, kind, slot.hours))
            slot.state = SlotState.RELEASED
        proposal.state = ProposalState.WITHDRAWN
        proposal.decided_at = now
    apply_changes(session, changes)
    factory_orgs = _factory_organizations(session, {p.factory_id for p in proposals})
    events.notify(
        session, factory_orgs.values(), "order.cancelled", order_id=order.id, title=order.title
    )
    return len(proposals)


@dataclass(frozen=True)
class Coverage:
    """Hours of one order line: ordered, accepted, offered in pending proposals, unplaced."""

    hours: Decimal
    accepted: Decimal
    pending: Decimal

    @property
    def unplaced(self) -> Decimal:
        return max(Decimal(0), self.hours - self.accepted - self.pending)


def coverage(session: Session, order_ids: list[int]) -> dict[int, Coverage]:
    """Per line of the orders, how much of its work is accepted, pending and unplaced."""
    accepted, pending = work_of_lines(session, order_ids)
    return {
        line.id: Coverage(  # type: ignore[misc]
            hours=line.hours,
            accepted=accepted.get(line.id, Decimal(0)),  # type: ignore[arg-type]
            pending=sum((p.hours for p, _ in pending.get(line.id, [])), Decimal(0)),  # type: ignore[arg-type]
        )
        for line in session.exec(
            select(OrderLine).where(OrderLine.order_id.in_(order_ids))  # type: ignore[attr-defined]
        )
    }
