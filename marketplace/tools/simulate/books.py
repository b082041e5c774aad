"""The simulation's books: its figures, and the checks that capacity adds up.

`overbooked_buckets` counts buckets whose booked hours exceed their maximum, and
`booking_mismatches` counts buckets of the simulated shops whose booked (or held) hours
differ from what was there before plus the hours of the live proposal slots on them.
Both must be 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.hours import free_hours_sql
from factories.models import CapacityBucket, id_of
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    MatchRunOrder,
    MatchRunState,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)


def summary(
    session: Session,
    order_ids: list[int],
    factory_ids: list[int],
    baseline: dict[int, tuple[Decimal, Decimal]],
    wall_s: float,
    **figures: Any,
) -> dict[str, Any]:
    """The simulation's figures, and whether its books add up.

    `baseline` holds the booked and held hours of the simulated shops' buckets before
    the simulation; `figures` are the run's own (mode, concurrency, phases, retries)."""
    ids = order_ids
    states = dict(
        session.exec(
            select(col(Order.state), sa.func.count(col(Order.id)))
            .where(col(Order.id).in_(ids))
            .group_by(Order.state)
        ).all()
    )
    total_hours, line_count = session.exec(
        select(sa.func.coalesce(sa.func.sum(OrderLine.hours), 0), sa.func.count()).where(
            col(OrderLine.order_id).in_(ids)
        )
    ).one()
    accepted_hours = session.exec(
        select(sa.func.coalesce(sa.func.sum(Proposal.hours), 0)).where(
            col(Proposal.order_id).in_(ids),
            Proposal.state == ProposalState.ACCEPTED,
        )
    ).one()
    proposal_states = dict(
        session.exec(
            select(col(Proposal.state), sa.func.count(col(Proposal.id)))
            .where(col(Proposal.order_id).in_(ids))
            .group_by(Proposal.state)
        ).all()
    )
    runs = dict(
        session.exec(
            select(col(MatchRun.kind), sa.func.count(sa.distinct(col(MatchRun.id))))
            .join(MatchRunOrder, col(MatchRunOrder.match_run_id) == col(MatchRun.id))
            .where(col(MatchRunOrder.order_id).in_(ids))
            .group_by(MatchRun.kind)
        ).all()
    )
    failed_runs = session.exec(
        select(sa.func.count(sa.distinct(col(MatchRun.id))))
        .join(MatchRunOrder, col(MatchRunOrder.match_run_id) == col(MatchRun.id))
        .where(
            col(MatchRunOrder.order_id).in_(ids),
            MatchRun.state == MatchRunState.FAILED,
        )
    ).one()
    overbooked = session.exec(
        select(sa.func.count(col(CapacityBucket.id))).where(free_hours_sql(CapacityBucket) < 0)
    ).one()
    mismatches = _mismatches(session, baseline)
    # The simulation answers for its own factories only: work offered to the
    # database's other factories waits for their answer (or their deadline).
    elsewhere = session.exec(
        select(sa.func.count(col(Proposal.id))).where(
            col(Proposal.order_id).in_(ids),
            col(Proposal.factory_id).not_in(factory_ids),
            Proposal.state == ProposalState.PENDING,
        )
    ).one()
    delivered = states.get(OrderState.DELIVERED, 0)
    return {
        "orders": len(ids),
        "lines": line_count,
        "factories": len(factory_ids),
        "fill_rate": round(float(accepted_hours) / float(total_hours), 4) if total_hours else 1.0,
        "hours_ordered": float(total_hours),
        "hours_accepted": float(accepted_hours),
        "overbooked_buckets": overbooked,
        "booking_mismatches": mismatches,
        "proposals": sum(proposal_states.values()),
        "accepted": proposal_states.get(ProposalState.ACCEPTED, 0),
        "declined": proposal_states.get(ProposalState.DECLINED, 0),
        "superseded": proposal_states.get(ProposalState.SUPERSEDED, 0),
        "runs": sum(runs.values()),
        "rematched": runs.get(MatchRunKind.REMATCH, 0),
        "failed_runs": failed_runs,
        "delivered": delivered,
        "pending_with_other_factories": elsewhere,
        "orders_by_state": {str(k): v for k, v in sorted(states.items())},
        **figures,
        "wall_s": round(wall_s, 2),
        "orders_per_s": round(len(ids) / wall_s, 2) if wall_s else None,
    }


def _mismatches(session: Session, baseline: dict[int, tuple[Decimal, Decimal]]) -> int:
    """Buckets of the simulated shops whose books do not add up."""
    live: dict[int, tuple[Decimal, Decimal]] = {}
    for bucket_id, state, hours in session.exec(
        select(ProposalSlot.bucket_id, ProposalSlot.state, sa.func.sum(ProposalSlot.hours))
        .where(
            col(ProposalSlot.bucket_id).in_(list(baseline)),
            col(ProposalSlot.state).in_((SlotState.HELD, SlotState.CONFIRMED)),
        )
        .group_by(col(ProposalSlot.bucket_id), col(ProposalSlot.state))
    ):
        booked, held = live.get(bucket_id, (Decimal(0), Decimal(0)))
        live[bucket_id] = (booked + hours, held + (hours if state == SlotState.HELD else 0))
    wrong = 0
    for bucket in session.exec(
        select(CapacityBucket).where(col(CapacityBucket.id).in_(list(baseline)))
    ):
        base_booked, base_held = baseline[id_of(bucket)]
        booked, held = live.get(id_of(bucket), (Decimal(0), Decimal(0)))
        if bucket.booked_hours != base_booked + booked or bucket.held_hours != base_held + held:
            wrong += 1
    return wrong
