"""The supply network and its risk (definitions: docs/operator.md).

Demand is the work of orders not yet shipped (open to in production); allocated hours are
their pending and accepted proposals. Which factories qualify for a line is the
eligibility rule of every matching run (`marketplace.orders.runs.problem.
eligible_candidates`); free hours are those of the qualified capacity lines over the
calendar's weeks. Per process: qualified factories, free hours, the Herfindahl–Hirschman
index of allocated hours, single-sourced orders (a line only one factory qualifies for)
and critical factories (whose loss leaves demand unserved: the only source of a line, or
holding more allocated hours than the other qualified factories have free).

The four properties, each 0..1: completeness, smoothness, control, and recovery, which
re-plans the loss of the most critical factory with the what-if (`recovery()`; it runs
the engine, so the network page loads it apart).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.calendar import CALENDAR_WEEKS
from factories.capacity.hours import NO_HOURS, free_hours_sql
from factories.capacity.weeks import monday_of, weeks_from
from factories.models import CapacityBucket, Factory, id_of
from marketplace.accounts.models import Organization
from marketplace.operator.whatif.service import WhatIf, what_if
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
from marketplace.orders.runs.problem import eligible_candidates

DEMAND_STATES = (
    OrderState.OPEN,
    OrderState.MATCHING,
    OrderState.PROPOSED,
    OrderState.AWAITING_PAYMENT,
    OrderState.CONFIRMED,
    OrderState.IN_PRODUCTION,
)
RECOVERY_TIME_LIMIT_S = 5.0


def hhi(amounts: list[Decimal]) -> float | None:
    """Herfindahl–Hirschman index of the shares (0..1; 1: one holder of everything)."""
    total = sum(amounts, Decimal(0))
    if total <= 0:
        return None
    return float(sum(((a / total) ** 2 for a in amounts), Decimal(0)))


@dataclass
class ProcessRisk:
    process: str
    demanded_hours: Decimal = NO_HOURS
    allocated_hours: Decimal = NO_HOURS
    qualified: set[int] = field(default_factory=set)
    free_hours: Decimal = NO_HOURS
    by_factory: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    single_sourced: set[int] = field(default_factory=set)  # order ids
    unserved_lines: int = 0  # lines no factory qualifies for
    critical: set[int] = field(default_factory=set)

    @property
    def concentration(self) -> float | None:
        return hhi(list(self.by_factory.values()))


@dataclass
class Node:
    id: str
    kind: str  # buyer, order, factory
    label: str
    latitude: float
    longitude: float
    critical: bool = False


@dataclass
class Edge:
    source: str
    target: str
    hours: Decimal


@dataclass
class Network:
    today: date
    processes: list[ProcessRisk]
    completeness: float
    smoothness: float
    control: float
    critical: dict[int, str]  # factory id -> name
    most_critical: int | None
    nodes: list[Node]
    edges: list[Edge]
    demanded_hours: Decimal
    on_time_hours: Decimal


def network(session: Session, today: date) -> Network:
    orders = {
        id_of(o): o
        for o in session.exec(
            select(Order).where(col(Order.state).in_(DEMAND_STATES)).order_by(col(Order.id))
        ).all()
    }
    lines = list(
        session.exec(
            select(OrderLine)
            .where(col(OrderLine.order_id).in_(list(orders)))
            .order_by(col(OrderLine.id))
        ).all()
    ) if orders else []  # fmt: skip
    candidates = eligible_candidates(session, [(line, orders[line.order_id]) for line in lines])
    risks: dict[str, ProcessRisk] = {}
    capacity_lines: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for line in lines:
        risk = risks.setdefault(line.process_code, ProcessRisk(line.process_code))
        risk.demanded_hours += line.hours
        sources = {c.factory_id for c in candidates.get(id_of(line), [])}
        risk.qualified |= sources
        capacity_lines[line.process_code] |= {
            (c.factory_id, c.resource) for c in candidates.get(id_of(line), [])
        }
        if len(sources) == 1:
            risk.single_sourced.add(line.order_id)
        elif not sources:
            risk.unserved_lines += 1
    weeks = weeks_from(monday_of(today), CALENDAR_WEEKS)
    free = _free_by_capacity_line(session, capacity_lines, weeks)
    for process, keys in capacity_lines.items():
        risks[process].free_hours = sum((free.get(k, NO_HOURS) for k in keys), NO_HOURS)
    line_of = {id_of(line): line for line in lines}
    allocated, on_time = _allocations(session, line_of, orders)
    for (line_id, factory_id), hours in allocated.items():
        risk = risks[line_of[line_id].process_code]
        risk.by_factory[factory_id] += hours
        risk.allocated_hours += hours
    free_by_factory = _free_by_factory(free, capacity_lines)
    for process, risk in risks.items():
        sole = {
            next(iter({c.factory_id for c in candidates.get(id_of(line), [])}))
            for line in lines
            if line.process_code == process
            and len({c.factory_id for c in candidates.get(id_of(line), [])}) == 1
        }
        risk.critical |= sole
        for factory_id, hours in risk.by_factory.items():
            others_free = risk.free_hours - free_by_factory[process].get(factory_id, NO_HOURS)
            if hours > others_free:
                risk.critical.add(factory_id)
    processes = sorted(risks.values(), key=lambda r: (-r.demanded_hours, r.process))
    demanded = sum((r.demanded_hours for r in processes), NO_HOURS)
    served = [r for r in processes if r.qualified and r.free_hours + r.allocated_hours > 0]
    total_by_factory: dict[int, Decimal] = defaultdict(Decimal)
    for (_, factory_id), hours in allocated.items():
        total_by_factory[factory_id] += hours
    concentration = hhi(list(total_by_factory.values()))
    critical_ids = set().union(*(r.critical for r in processes)) if processes else set()
    most_critical = max(
        critical_ids or set(total_by_factory),
        key=lambda f: (total_by_factory.get(f, NO_HOURS), -f),
        default=None,
    )
    names = _factory_names(session, set(total_by_factory) | critical_ids)
    nodes, edges = _graph(session, orders, allocated, line_of, critical_ids)
    return Network(
        today=today,
        processes=processes,
        completeness=len(served) / len(processes) if processes else 1.0,
        smoothness=float(on_time / demanded) if demanded > 0 else 1.0,
        control=1.0 - concentration if concentration is not None else 1.0,
        critical={f: names.get(f, str(f)) for f in sorted(critical_ids)},
        most_critical=most_critical,
        nodes=nodes,
        edges=edges,
        demanded_hours=demanded,
        on_time_hours=on_time,
    )


def recovery(
    session: Session,
    net: Network,
    *,
    time_limit_s: float = RECOVERY_TIME_LIMIT_S,
    workers: int | None = None,
) -> tuple[float, WhatIf | None]:
    """Share of the fill regained by re-matching after losing the most critical factory
    for the calendar's weeks (1.0 when no factory carries any work)."""
    if net.most_critical is None:
        return 1.0, None
    factory = session.get(Factory, net.most_critical)
    assert factory is not None
    first = monday_of(net.today)
    weeks = weeks_from(first, CALENDAR_WEEKS)
    outage = Outage(
        (net.most_critical,), {net.most_critical: factory.name}, factory.name, first, weeks[-1]
    )
    result = what_if(session, outage, net.today, time_limit_s=time_limit_s, workers=workers)
    return result.recovery, result


def _free_by_capacity_line(
    session: Session, keys: dict[str, set[tuple[int, str]]], weeks: list[date]
) -> dict[tuple[int, str], Decimal]:
    wanted = set().union(*keys.values()) if keys else set()
    if not wanted:
        return {}
    rows = session.exec(
        select(
            CapacityBucket.factory_id,
            CapacityBucket.resource,
            sa.func.sum(free_hours_sql(CapacityBucket)),
        )
        .where(
            col(CapacityBucket.factory_id).in_(sorted({f for f, _ in wanted})),
            col(CapacityBucket.resource).in_(sorted({r for _, r in wanted})),
            CapacityBucket.point_in_time >= weeks[0],
            CapacityBucket.point_in_time <= weeks[-1],
        )
        .group_by(col(CapacityBucket.factory_id), col(CapacityBucket.resource))
    ).all()
    return {(f, r): Decimal(h) for f, r, h in rows if (f, r) in wanted}


def _free_by_factory(
    free: dict[tuple[int, str], Decimal], keys: dict[str, set[tuple[int, str]]]
) -> dict[str, dict[int, Decimal]]:
    result: dict[str, dict[int, Decimal]] = {}
    for process, pairs in keys.items():
        per: dict[int, Decimal] = defaultdict(Decimal)
        for factory_id, resource in pairs:
            per[factory_id] += free.get((factory_id, resource), NO_HOURS)
        result[process] = per
    return result


def _allocations(
    session: Session, line_of: dict[int, OrderLine], orders: dict[int, Order]
) -> tuple[dict[tuple[int, int], Decimal], Decimal]:
    """Hours per (line, factory) of pending and accepted proposals, and of those the
    hours booked in weeks up to the order's due week (on time)."""
    allocated: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    on_time = NO_HOURS
    if not line_of:
        return allocated, on_time
    rows = session.execute(
        sa.select(
            col(Proposal.order_id),
            col(Proposal.order_line_id),
            col(Proposal.factory_id),
            col(ProposalSlot.hours),
            col(CapacityBucket.point_in_time),
        )
        .join(ProposalSlot, col(ProposalSlot.proposal_id) == col(Proposal.id))
        .join(CapacityBucket, col(CapacityBucket.id) == col(ProposalSlot.bucket_id))
        .where(
            col(Proposal.order_id).in_(list(orders)),
            col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
            col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
        )
    ).all()
    for order_id, line_id, factory_id, hours, week in rows:
        allocated[(line_id, factory_id)] += Decimal(hours)
        if week <= monday_of(orders[order_id].due_date):
            on_time += Decimal(hours)
    return allocated, on_time


def _factory_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        id_of(f): f.name
        for f in session.exec(select(Factory).where(col(Factory.id).in_(sorted(ids))))
    }


def _graph(
    session: Session,
    orders: dict[int, Order],
    allocated: dict[tuple[int, int], Decimal],
    line_of: dict[int, OrderLine],
    critical: set[int],
) -> tuple[list[Node], list[Edge]]:
    """Buyers (at the mean of their orders' delivery places), orders (at their delivery
    place) and the factories holding their work, with order -> factory edges weighted by
    allocated hours and buyer -> order edges by ordered hours."""
    per_order_factory: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for (line_id, factory_id), hours in allocated.items():
        per_order_factory[(line_of[line_id].order_id, factory_id)] += hours
    ordered: dict[int, Decimal] = defaultdict(Decimal)
    for line in line_of.values():
        ordered[line.order_id] += line.hours
    factory_ids = sorted({f for _, f in per_order_factory})
    factories = (
        session.exec(select(Factory).where(col(Factory.id).in_(factory_ids))).all()
        if factory_ids
        else []
    )
    buyer_ids = sorted({o.buyer_organization_id for o in orders.values()})
    buyer_names = (
        {
            org.id: org.name
            for org in session.exec(select(Organization).where(col(Organization.id).in_(buyer_ids)))
        }
        if buyer_ids
        else {}
    )
    by_buyer: dict[int, list[Order]] = defaultdict(list)
    for o in orders.values():
        by_buyer[o.buyer_organization_id].append(o)
    nodes = [
        Node(
            f"buyer-{b}",
            "buyer",
            buyer_names.get(b, str(b)),
            sum(o.delivery_latitude for o in os) / len(os),
            sum(o.delivery_longitude for o in os) / len(os),
        )
        for b, os in sorted(by_buyer.items())
    ]
    nodes += [
        Node(
            f"order-{oid}", "order", f"#{oid} {o.title}", o.delivery_latitude, o.delivery_longitude
        )
        for oid, o in orders.items()
    ]
    nodes += [
        Node(
            f"factory-{id_of(f)}", "factory", f.name, f.latitude, f.longitude, id_of(f) in critical
        )
        for f in factories
    ]
    edges = [
        Edge(f"buyer-{o.buyer_organization_id}", f"order-{oid}", ordered[oid])
        for oid, o in orders.items()
    ]
    edges += [
        Edge(f"order-{oid}", f"factory-{fid}", hours)
        for (oid, fid), hours in sorted(per_order_factory.items())
    ]
    return nodes, edges
