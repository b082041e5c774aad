"""The demo's orders, in every state of their life, with proposals booking the hours."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from factories.capacity.hours import free_hours
from factories.capacity.weeks import monday_of
from factories.fit import price_minor
from factories.models import (
    CapacityBucket,
    FactoryStatus,
    id_column,
)
from factories.taxonomy import TOLERANCE_CLASSES
from marketplace.bulk import insert_rows
from marketplace.orders.models import (
    Dispute,
    DisputeState,
    MatchRun,
    MatchRunState,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.tools.demo.data import (
    AWAITING_PAYMENT_SHARE,
    ORDER_STATE_MIX,
    PART_NAMES,
    REGIONS,
    STATES_WITH_PROPOSALS,
    DemoSummary,
)


def insert_orders(
    session: Session,
    rng: random.Random,
    count: int,
    buyer_orgs: list[int],
    capabilities: list[dict[str, Any]],
    buckets: dict[tuple[int, str, date], dict[str, Any]],
    weeks: list[date],
    now: datetime,
    summary: DemoSummary,
    slots: list[dict[str, Any]],
    awaiting_rng: random.Random,
) -> dict[OrderState, int]:
    by_process: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in capabilities:
        if c["factory"]["status"] == FactoryStatus.VERIFIED:
            by_process[c["process_code"]].append(c)
    offered = sorted(by_process)
    states, shares = zip(*ORDER_STATE_MIX, strict=True)
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    planned: list[tuple[int, OrderState, list[dict[str, Any]]]] = []

    def draw(rng: random.Random, i: int, state: OrderState, buyer: int) -> None:
        due = weeks[min(len(weeks) - 1, rng.randint(1, len(weeks) - 1))] + timedelta(days=4)
        if state in (OrderState.DELIVERED, OrderState.CLOSED):
            due = monday_of(now.date()) - timedelta(days=rng.randint(3, 40))
        region = rng.choice(REGIONS)
        city, lat, lon = rng.choice(region.cities)
        index = len(orders)
        orders.append(
            {
                "buyer_organization_id": buyer,
                "title": f"{rng.choice(PART_NAMES)} batch {1000 + i}",
                "state": state,
                "due_date": due,
                "delivery_country": region.country,
                "delivery_city": city,
                "delivery_latitude": lat,
                "delivery_longitude": lon,
                "budget_minor": rng.choice((None, 500_000, 1_500_000, 4_000_000)),
                "currency": "EUR",
                "min_credit": rng.choice((0.0, 0.0, 0.0, 0.5, 0.7)),
                "created_at": now - timedelta(days=rng.randint(0, 60)),
                "updated_at": now,
            }
        )
        for line_no in range(1, rng.choice((1, 1, 2, 2, 3)) + 1):
            process = rng.choice(offered)
            capable = by_process[process]
            model = rng.choice(capable)
            quantity = rng.choice((1, 5, 10, 25, 50, 100, 250, 1000))
            hours = Decimal(f"{max(2.0, min(400.0, rng.lognormvariate(3.0, 0.9))):.1f}")
            lines.append(
                {
                    "order_index": index,
                    "line_no": line_no,
                    "process_code": process,
                    "material": rng.choice(model["materials"]),
                    "quantity": quantity,
                    "hours": hours,
                    "length_mm": int(model["max_length_mm"] * rng.uniform(0.1, 0.6)),
                    "width_mm": int(model["max_width_mm"] * rng.uniform(0.1, 0.6)),
                    "height_mm": max(1, int(model["max_height_mm"] * rng.uniform(0.1, 0.6))),
                    "tolerance_class": rng.choice(TOLERANCE_CLASSES[:3]),
                    "certifications_required": ["ISO9001"] if rng.random() < 0.2 else [],
                    "splittable": rng.random() < 0.4,
                }
            )
            if state in STATES_WITH_PROPOSALS:
                planned.append((len(lines) - 1, state, capable))

    for i in range(count):
        state = states[i] if i < len(states) else rng.choices(states, shares)[0]
        draw(rng, i, state, buyer_orgs[i % len(buyer_orgs)])
    # The first buyer (the demo's login) has the first order to pay.
    for k in range(max(1, round(count * AWAITING_PAYMENT_SHARE)) if count else 0):
        draw(awaiting_rng, count + k, OrderState.AWAITING_PAYMENT, buyer_orgs[k % len(buyer_orgs)])

    order_ids = insert_rows(session, Order, orders)
    insert_demo_disputes(session, orders, order_ids, now)
    for line in lines:
        line["order_id"] = order_ids[line.pop("order_index")]
    line_ids = insert_rows(session, OrderLine, lines)
    summary.orders, summary.order_lines = len(orders), len(lines)

    proposals = book_demo_proposals(rng, planned, lines, line_ids, buckets, weeks, now)
    if proposals:
        run_id = insert_rows(
            session,
            MatchRun,
            [
                {
                    "state": MatchRunState.SUCCEEDED,
                    "time_limit_s": 10.0,
                    "problem": {
                        "version": 1,
                        "note": "demo data: proposals were seeded, not solved",
                    },
                    "plan": None,
                    "progress": {},
                    "solver_status": None,
                    "created_at": now,
                    "started_at": now,
                    "finished_at": now,
                }
            ],
        )[0]
        for p in proposals:
            p["match_run_id"] = run_id
        held = [p.pop("slot") for p in proposals]
        for proposal_id, slot in zip(insert_rows(session, Proposal, proposals), held, strict=True):
            slots.append({**slot, "proposal_id": proposal_id})
    summary.proposals = len(proposals)
    counts: dict[OrderState, int] = defaultdict(int)
    for order in orders:
        counts[order["state"]] += 1
    return dict(counts)


def book_demo_proposals(
    rng: random.Random,
    planned: list[tuple[int, OrderState, list[dict[str, Any]]]],
    lines: list[dict[str, Any]],
    line_ids: list[int],
    buckets: dict[tuple[int, str, date], dict[str, Any]],
    weeks: list[date],
    now: datetime,
) -> list[dict[str, Any]]:
    """Give each planned line to a capable factory with room, booking the hours it takes."""
    proposals = []
    for line_index, state, capable in planned:
        line = lines[line_index]
        for capability in rng.sample(capable, min(len(capable), 8)):
            factory_id = capability["factory"]["id"]
            week = rng.choice(weeks)
            bucket = buckets.get((factory_id, line["process_code"], week))
            if (
                bucket is None
                or free_hours(bucket["maximum_hours"], bucket["booked_hours"]) < line["hours"]
            ):
                continue
            bucket["booked_hours"] += line["hours"]
            pending = state == OrderState.PROPOSED
            if pending:
                bucket["held_hours"] += line["hours"]
            proposals.append(
                {
                    "order_id": line["order_id"],
                    "order_line_id": line_ids[line_index],
                    "factory_id": factory_id,
                    "state": ProposalState.PENDING
                    if state == OrderState.PROPOSED
                    else ProposalState.ACCEPTED,
                    "hours": line["hours"],
                    "price_minor": price_minor(line["hours"], capability["hourly_rate_minor"]),
                    "currency": capability["currency"],
                    "explanation": {"reason": "demo data"},
                    "expires_at": now + timedelta(hours=48),
                    "created_at": now,
                    "decided_at": None if state == OrderState.PROPOSED else now,
                    # The capacity the proposal holds (pending) or booked (accepted).
                    "slot": {
                        "bucket": (factory_id, line["process_code"], week),
                        "hours": line["hours"],
                        "state": SlotState.HELD if pending else SlotState.CONFIRMED,
                    },
                }
            )
            break
    return proposals


DISPUTE_REASONS = (
    "Two of the parts are outside the drawing's flatness tolerance.",
    "The delivery arrived with 12 parts fewer than ordered.",
    "The surface finish does not match the agreed Ra 0.8.",
)


def insert_demo_disputes(
    session: Session,
    orders: list[dict[str, Any]],
    order_ids: list[int],
    now: datetime,
) -> None:
    """A disputed demo order has the buyer's dispute, open, for an operator to settle."""
    disputes = [
        {
            "order_id": order_id,
            "opened_by_organization_id": order["buyer_organization_id"],
            "reason": DISPUTE_REASONS[order_id % len(DISPUTE_REASONS)],
            "state": DisputeState.OPEN,
            "created_at": now,
        }
        for order, order_id in zip(orders, order_ids, strict=True)
        if order["state"] == OrderState.DISPUTED
    ]
    if disputes:
        insert_rows(session, Dispute, disputes)


def insert_proposal_slots(session: Session, slots: list[dict[str, Any]]) -> None:
    """Link each demo proposal to the bucket it books, once the buckets have ids."""
    if not slots:
        return
    factory_ids = sorted({s["bucket"][0] for s in slots})
    bucket_ids = {
        (factory_id, resource, week): bucket_id
        for bucket_id, factory_id, resource, week in session.execute(
            select(
                id_column(CapacityBucket),
                col(CapacityBucket.factory_id),
                col(CapacityBucket.resource),
                col(CapacityBucket.point_in_time),
            ).where(col(CapacityBucket.factory_id).in_(factory_ids))
        )
    }
    insert_rows(
        session,
        ProposalSlot,
        [
            {
                "proposal_id": s["proposal_id"],
                "bucket_id": bucket_ids[s["bucket"]],
                "hours": s["hours"],
                "state": s["state"],
            }
            for s in slots
        ],
    )
