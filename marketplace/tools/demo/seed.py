"""A realistic demo cluster, deterministic for a seed.

Many small shops and a few big ones in several industrial regions, each an archetype
(machine shop, sheet metal, foundry, plastics, additive, finishing, electronics,
forge) so that every DIN 8580 group is on offer; capacity for the coming weeks with
some weeks sold out; buyers with orders in every state of their life, and the money of
those orders on the simulated gateway (`money`). Rows go in with bulk inserts (`rows`).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.weeks import weeks_from
from factories.models import (
    CapacityBucket,
    Factory,
    id_column,
    table_of,
)
from marketplace.bulk import insert_without_ids
from marketplace.orders.models import Order, Proposal, ProposalState
from marketplace.tools.demo.cluster import (
    insert_capabilities,
    insert_demo_logins,
    insert_factories,
    insert_operator_and_buyers,
    plan_capacity,
)
from marketplace.tools.demo.credit import seed_credit
from marketplace.tools.demo.data import (
    DemoSpec,
    DemoSummary,
)
from marketplace.tools.demo.money import insert_money
from marketplace.tools.demo.orders import insert_orders, insert_proposal_slots


def has_factories(session: Session) -> bool:
    return session.exec(select(Factory.id).limit(1)).first() is not None


def busiest_factory(
    session: Session, factories: list[dict[str, Any]], order_ids: list[int]
) -> dict[str, Any]:
    """The factory the demo's factory login runs: the one with the most proposals waiting
    for an answer (then the most work), so that its owner has something to do."""
    if not order_ids:
        return factories[0]
    counts = {
        factory_id: (pending, total)
        for factory_id, pending, total in session.execute(
            select(
                col(Proposal.factory_id),
                sa.func.count().filter(col(Proposal.state) == ProposalState.PENDING),
                sa.func.count(),
            )
            .where(col(Proposal.order_id).in_(order_ids))
            .group_by(col(Proposal.factory_id))
        )
    }
    return max(factories, key=lambda f: (*counts.get(f["id"], (0, 0)), -f["id"]))


def seed_marketplace(session: Session, spec: DemoSpec) -> DemoSummary:
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    now = datetime.now(UTC)
    weeks = weeks_from(spec.start or now.date(), spec.weeks)
    summary = DemoSummary()

    operator_org, buyer_orgs = insert_operator_and_buyers(session, rng, spec.buyers)
    factories = insert_factories(session, rng, spec.factories, now, spec.namespace)
    summary.factories = len(factories)
    summary.regions = len({f["region"] for f in factories})
    capabilities = insert_capabilities(session, rng, factories, now)
    summary.capabilities = len(capabilities)
    buckets = plan_capacity(rng, capabilities, weeks, now)
    slots: list[dict[str, Any]] = []
    orders_before = session.exec(select(sa.func.coalesce(sa.func.max(Order.id), 0))).one()
    orders_by_state = insert_orders(
        session,
        rng,
        spec.orders,
        buyer_orgs,
        capabilities,
        buckets,
        weeks,
        now,
        summary,
        slots,
        awaiting_rng=random.Random(f"{spec.seed}:awaiting payment"),
    )
    # Inserted last, so that the bookings of the demo orders go in with the rows.
    insert_without_ids(session, table_of(CapacityBucket), list(buckets.values()))
    insert_proposal_slots(session, slots)
    order_ids = list(session.exec(select(id_column(Order)).where(col(Order.id) > orders_before)))
    money = insert_money(
        session,
        rng,
        [f["id"] for f in factories] if spec.payout_accounts else [],
        order_ids,
        now,
    )
    # Its own generator: the history adds draws without changing the rest of a seed.
    summary.ledger_events = seed_credit(
        session, random.Random(f"{spec.seed}:credit"), factories, now
    )
    summary.payout_accounts, summary.payments, summary.payouts = (
        money.accounts,
        money.payments,
        money.payouts,
    )
    summary.capacity_buckets = len(buckets)
    summary.orders_by_state = {state.value: n for state, n in orders_by_state.items()}
    if spec.logins:
        factory = busiest_factory(session, factories, order_ids)
        summary.logins = insert_demo_logins(session, operator_org, buyer_orgs[0], factory, now)
    session.flush()
    summary.seconds = time.perf_counter() - started
    return summary
