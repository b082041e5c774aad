"""A realistic demo cluster, deterministic for a seed.

Many small shops and a few big ones in several industrial regions, each an archetype
(machine shop, sheet metal, foundry, plastics, additive, finishing, electronics,
forge) so that every DIN 8580 group is on offer; capacity for the coming weeks with
some weeks sold out; buyers with orders in every state of their life. Rows go in with
bulk inserts (`rows`).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from factories.capacity.weeks import weeks_from
from factories.models import (
    CapacityBucket,
    Factory,
    table_of,
)
from marketplace.tools.demo.cluster import (
    insert_capabilities,
    insert_demo_logins,
    insert_factories,
    insert_operator_and_buyers,
    plan_capacity,
)
from marketplace.tools.demo.data import (
    DemoSpec,
    DemoSummary,
)
from marketplace.tools.demo.orders import insert_orders, insert_proposal_slots
from marketplace.tools.demo.rows import insert_without_ids


def has_factories(session: Session) -> bool:
    return session.exec(select(Factory.id).limit(1)).first() is not None


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
    orders_by_state = insert_orders(
        session, rng, spec.orders, buyer_orgs, capabilities, buckets, weeks, now, summary, slots
    )
    # Inserted last, so that the bookings of the demo orders go in with the rows.
    insert_without_ids(session, table_of(CapacityBucket), list(buckets.values()))
    insert_proposal_slots(session, slots)
    summary.capacity_buckets = len(buckets)
    summary.orders_by_state = {state.value: n for state, n in orders_by_state.items()}
    if spec.logins:
        summary.logins = insert_demo_logins(session, operator_org, buyer_orgs[0], factories[0], now)
    session.flush()
    summary.seconds = time.perf_counter() - started
    return summary
