"""A what-if outage: which work it hits, and what the engine's `rematch` makes of it.

The outage hits every proposal (pending, or accepted by the factory) holding hours of a
lost factory in a lost week. Orders still before production (proposed, awaiting payment,
confirmed) are re-planned: their problem is the one every matching run builds
(`marketplace.orders.runs.problem.build_problem`), with the hit accepted proposals
counted as pending (`reopened`), the lost capacity taken out, and the standing proposals
as the plan to disturb least (`matching.rematch`). Orders in production are listed for
the operator. Nothing is written: the session is only read (see `apply.py` for making it
real). Figures (docs/operator.md):

* fill before / after: placed (accepted + pending) ÷ ordered hours of the affected orders,
  before the outage and after the re-match; `fill_lost` is the fill right after the loss,
  before any re-match;
* cost before / after per currency: the proposals' prices, and after the re-match the
  kept accepted prices plus the plan's hours at each capacity line's hourly rate;
* unsaved orders: affected orders with fewer hours placed after than before;
* pick-up: the factories that get hours they did not have.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

import matching
from factories.capacity.hours import quantize_hours
from factories.capacity.weeks import week_label
from factories.fit import price_minor
from factories.models import CapacityBucket, Factory, id_of
from marketplace.operator.whatif.problem import (
    held_by_other_lines,
    only_hit_lines,
    pickup_of,
    without_lost_capacity,
)
from marketplace.operator.whatif.target import Outage
from marketplace.orders.models import (
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.runs.problem import (
    build_problem,
    line_id_of,
)

REPLANNED = (
    OrderState.OPEN,
    OrderState.PROPOSED,
    OrderState.AWAITING_PAYMENT,
    OrderState.CONFIRMED,
)
IN_PRODUCTION = (OrderState.IN_PRODUCTION,)
DEFAULT_TIME_LIMIT_S = 10.0
EMPTY_PLAN: dict[str, Any] = {
    "status": "FEASIBLE",
    "objective": 0.0,
    "bound": None,
    "assignments": [],
    "unassigned": [],
    "solve_s": 0.0,
}


@dataclass
class HitWork:
    """Proposals holding lost hours, per order."""

    proposals: dict[int, list[Proposal]] = field(default_factory=lambda: defaultdict(list))
    lost_hours: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def hit_work(session: Session, outage: Outage) -> tuple[dict[int, Order], HitWork]:
    """Orders with pending or accepted proposals holding lost hours, and those proposals."""
    hit = HitWork()
    if not outage.factory_ids:
        return {}, hit
    rows = session.exec(
        select(Proposal, col(ProposalSlot.hours))
        .join(ProposalSlot, col(ProposalSlot.proposal_id) == col(Proposal.id))
        .join(CapacityBucket, col(CapacityBucket.id) == col(ProposalSlot.bucket_id))
        .where(
            col(CapacityBucket.factory_id).in_(outage.factory_ids),
            CapacityBucket.point_in_time >= outage.first,
            CapacityBucket.point_in_time <= outage.last,
            col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
            col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
        )
        .order_by(col(Proposal.id))
    ).all()
    for proposal, hours in rows:
        if proposal not in hit.proposals[proposal.order_id]:
            hit.proposals[proposal.order_id].append(proposal)
        hit.lost_hours[proposal.order_id] += Decimal(hours)
    orders = {
        id_of(o): o
        for o in session.exec(
            select(Order).where(col(Order.id).in_(sorted(hit.proposals))).order_by(col(Order.id))
        ).all()
    }
    return orders, hit


@dataclass
class OrderOutcome:
    order_id: int
    title: str
    state: str
    currency: str
    hours: Decimal
    before: Decimal
    after: Decimal
    lost: Decimal

    @property
    def unsaved_hours(self) -> Decimal:
        return max(Decimal(0), self.before - self.after)


@dataclass
class WhatIf:
    outage: Outage
    orders: list[OrderOutcome]
    in_production: list[OrderOutcome]
    fill_before: float | None
    fill_lost: float | None
    fill_after: float | None
    cost_before: dict[str, int]
    cost_after: dict[str, int]
    pickup: dict[int, Decimal]
    pickup_names: dict[int, str]
    plan: dict[str, Any] | None
    solve_s: float

    @property
    def unsaved(self) -> list[OrderOutcome]:
        return [o for o in self.orders if o.unsaved_hours > Decimal("0.005")]

    @property
    def cost_change(self) -> dict[str, int]:
        currencies = sorted(set(self.cost_before) | set(self.cost_after))
        return {c: self.cost_after.get(c, 0) - self.cost_before.get(c, 0) for c in currencies}

    @property
    def recovery(self) -> float:
        """Share of the lost fill that the re-match regains (1 when nothing was lost)."""
        if self.fill_before is None or self.fill_lost is None or self.fill_after is None:
            return 1.0
        lost = self.fill_before - self.fill_lost
        if lost <= 1e-9:
            return 1.0
        return max(0.0, min(1.0, (self.fill_after - self.fill_lost) / lost))

    def as_json(self) -> dict[str, Any]:
        def order(o: OrderOutcome) -> dict[str, Any]:
            return {
                "order": o.order_id,
                "title": o.title,
                "state": o.state,
                "hours": float(o.hours),
                "placed_before": float(o.before),
                "placed_after": float(o.after),
                "lost_hours": float(o.lost),
            }

        return {
            "target": {
                "label": self.outage.label,
                "factories": list(self.outage.factory_ids),
                "from_week": week_label(self.outage.first),
                "to_week": week_label(self.outage.last),
            },
            "affected_orders": [order(o) for o in self.orders],
            "in_production": [order(o) for o in self.in_production],
            "fill_before": self.fill_before,
            "fill_lost": self.fill_lost,
            "fill_after": self.fill_after,
            "recovery": self.recovery,
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
            "cost_change": self.cost_change,
            "unsaved_orders": [
                {**order(o), "unsaved_hours": float(o.unsaved_hours)} for o in self.unsaved
            ],
            "picked_up_by": [
                {"factory": f, "name": self.pickup_names.get(f, ""), "hours": float(h)}
                for f, h in sorted(self.pickup.items(), key=lambda item: -item[1])
            ],
            "solve_s": round(self.solve_s, 3),
        }


def what_if(
    session: Session,
    outage: Outage,
    today: date,
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    workers: int | None = None,
    seed: int = 0,
) -> WhatIf:
    """Re-plan the work the outage hits; reads only."""
    orders, hit = hit_work(session, outage)
    replanned = [o for o in orders.values() if o.state in REPLANNED]
    producing = [o for o in orders.values() if o.state in IN_PRODUCTION]
    ids = [id_of(o) for o in replanned]
    reopened = {
        id_of(p) for oid in ids for p in hit.proposals[oid] if p.state == ProposalState.ACCEPTED
    }
    proposals = _standing(session, ids)
    lines = _lines(session, ids)
    before = _placed(proposals)
    cost_before = _prices(proposals)
    plan: dict[str, Any] | None = None
    solve_s = 0.0
    after = {oid: Decimal(0) for oid in ids}
    cost_after: dict[str, int] = defaultdict(int)
    kept = [p for p in proposals if p.state == ProposalState.ACCEPTED and id_of(p) not in reopened]
    for p in kept:
        after[p.order_id] += p.hours
        cost_after[p.currency] += p.price_minor
    pickup: dict[int, Decimal] = defaultdict(Decimal)
    if replanned:
        built = build_problem(
            session, replanned, today, time_limit_s=time_limit_s, workers=workers, seed=seed,
            reopened=reopened,
        )  # fmt: skip
        hit_lines = {p.order_line_id for oid in ids for p in hit.proposals[oid]}
        problem, previous = only_hit_lines(
            without_lost_capacity(built.problem, outage),
            built.previous_plan or EMPTY_PLAN,
            hit_lines,
            held_by_other_lines(session, proposals, reopened, hit_lines),
        )
        # Lines the outage does not hit stay as they are.
        for p in proposals:
            if p.state == ProposalState.PENDING and p.order_line_id not in hit_lines:
                after[p.order_id] += p.hours
                cost_after[p.currency] += p.price_minor
        if problem["jobs"]:
            solved = matching.rematch(
                matching.load_problem(problem),
                matching.load_plan(previous),
                time_limit_s=time_limit_s,
                workers=workers,
                seed=seed,
            )
            plan = solved.model_dump(mode="json")
            solve_s = solved.solve_s
            line_order = {id_of(line): line.order_id for line in lines}
            for a in plan["assignments"]:
                line_id = line_id_of(a["job"])
                oid = line_order[line_id]
                hours = quantize_hours(a["hours"])
                after[oid] += hours
                candidate = built.candidates.get(a["job"], {}).get(a["factory"])
                if candidate is not None:
                    cost_after[orders[oid].currency] += price_minor(
                        hours, candidate.hourly_rate_minor
                    )
            pickup = pickup_of(previous, plan)
    outcomes = [
        OrderOutcome(
            id_of(o), o.title, o.state, o.currency, _ordered(lines, id_of(o)),
            before.get(id_of(o), Decimal(0)), after[id_of(o)], hit.lost_hours[id_of(o)],
        )
        for o in replanned
    ]  # fmt: skip
    producing_outcomes = [
        OrderOutcome(
            id_of(o), o.title, o.state, o.currency, Decimal(0), Decimal(0), Decimal(0),
            hit.lost_hours[id_of(o)],
        )
        for o in producing
    ]  # fmt: skip
    total = sum((o.hours for o in outcomes), Decimal(0))
    lost_now = sum((hit.lost_hours[o.order_id] for o in outcomes), Decimal(0))

    def share(placed: Decimal) -> float | None:
        return float(placed / total) if total > 0 else None

    placed_before = sum((o.before for o in outcomes), Decimal(0))
    return WhatIf(
        outage=outage,
        orders=outcomes,
        in_production=producing_outcomes,
        fill_before=share(placed_before),
        fill_lost=share(placed_before - lost_now),
        fill_after=share(sum((o.after for o in outcomes), Decimal(0))),
        cost_before=dict(cost_before),
        cost_after=dict(cost_after) if replanned else {},
        pickup=dict(pickup),
        pickup_names=_names(session, set(pickup)),
        plan=plan,
        solve_s=solve_s,
    )


def _standing(session: Session, order_ids: list[int]) -> list[Proposal]:
    if not order_ids:
        return []
    return list(
        session.exec(
            select(Proposal)
            .where(
                col(Proposal.order_id).in_(order_ids),
                col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
            )
            .order_by(col(Proposal.id))
        ).all()
    )


def _lines(session: Session, order_ids: list[int]) -> list[OrderLine]:
    if not order_ids:
        return []
    return list(session.exec(select(OrderLine).where(col(OrderLine.order_id).in_(order_ids))).all())


def _ordered(lines: list[OrderLine], order_id: int) -> Decimal:
    return sum((line.hours for line in lines if line.order_id == order_id), Decimal(0))


def _placed(proposals: list[Proposal]) -> dict[int, Decimal]:
    placed: dict[int, Decimal] = defaultdict(Decimal)
    for p in proposals:
        placed[p.order_id] += p.hours
    return placed


def _prices(proposals: list[Proposal]) -> dict[str, int]:
    prices: dict[str, int] = defaultdict(int)
    for p in proposals:
        prices[p.currency] += p.price_minor
    return prices


def _names(session: Session, factory_ids: set[int]) -> dict[int, str]:
    if not factory_ids:
        return {}
    return {
        id_of(f): f.name
        for f in session.exec(select(Factory).where(col(Factory.id).in_(sorted(factory_ids))))
    }
