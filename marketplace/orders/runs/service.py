"""Matching runs: starting one for some orders, and finding the runs of an order.

A run goes queued -> running -> succeeded | failed (`marketplace.orders.workers.matching`
executes it). Starting a run moves its orders to `matching` in the caller's transaction
and hands the run to the dispatcher once that transaction commits (the outbox).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from factories.errors import N_, Conflict
from factories.models import id_of, utcnow
from marketplace.accounts.service import Principal
from marketplace.orders import outbox
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    MatchRunOrder,
    Order,
    OrderState,
)
from marketplace.orders.posting.service import buyer_step, open_draft
from marketplace.orders.transitions import move

DEFAULT_TIME_LIMIT_S = 5.0
MAX_TIME_LIMIT_S = 60.0


def start_run(
    session: Session,
    orders: Sequence[Order],
    *,
    kind: MatchRunKind = MatchRunKind.MATCH,
    organization_id: int | None = None,
    created_by_id: int | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    requeue: bool = False,
) -> MatchRun:
    """Move the (locked) orders to `matching` and queue a run for them; it is dispatched
    when the session commits. Raises TransitionError if an order cannot be matched now.
    `requeue`: the orders are already matching (a run ending hands over to the next)."""
    for order in orders:
        if not (requeue and order.state == OrderState.MATCHING):
            move(order, OrderState.MATCHING)
        order.rematch_requested = False
        order.updated_at = utcnow()
    run = MatchRun(
        kind=kind,
        organization_id=organization_id,
        created_by_id=created_by_id,
        time_limit_s=time_limit_s,
        progress={"phase": "queued"},
        # Handed to the dispatcher when this transaction commits (the outbox); recovery
        # hands it over again if no worker took it.
        dispatched_at=utcnow(),
    )
    session.add(run)
    session.flush()
    for order in orders:
        session.add(MatchRunOrder(match_run_id=id_of(run), order_id=id_of(order)))
    session.flush()
    outbox.later(session, runs=[id_of(run)])
    return run


def request_matching(
    session: Session,
    principal: Principal,
    order_id: int,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> MatchRun:
    """The buyer asks for matching: queue a run for an open order (submitting a draft
    first)."""
    if not 0.5 <= time_limit_s <= MAX_TIME_LIMIT_S:
        raise OrderError(
            "time_limit_s",
            N_("must be between 0.5 and %(maximum)s seconds", maximum=f"{MAX_TIME_LIMIT_S:g}"),
        )
    order = buyer_step(session, principal, order_id)
    if order.state == OrderState.CONFIRMED:
        # confirmed -> matching is an operator's outage moving paid work, never the buyer's.
        raise Conflict(N_("the order is paid for: its work is placed"))
    if order.state == OrderState.DRAFT:
        open_draft(session, order)
    return start_run(
        session,
        [order],
        organization_id=order.buyer_organization_id,
        created_by_id=principal.user_id,
        time_limit_s=time_limit_s,
    )


def run_orders(session: Session, run_id: int) -> list[int]:
    """Ids of the orders a run places."""
    return list(
        session.exec(
            select(MatchRunOrder.order_id)
            .where(MatchRunOrder.match_run_id == run_id)
            .order_by(col(MatchRunOrder.order_id))
        ).all()
    )


def orders_of_run(session: Session, run_id: int) -> list[Order]:
    return list(
        session.exec(
            select(Order)
            .join(MatchRunOrder, col(MatchRunOrder.order_id) == col(Order.id))
            .where(MatchRunOrder.match_run_id == run_id)
            .order_by(col(Order.id))
        ).all()
    )


def runs_of_order(session: Session, order_id: int) -> list[MatchRun]:
    """The order's runs, latest first."""
    return list(
        session.exec(
            select(MatchRun)
            .join(MatchRunOrder, col(MatchRunOrder.match_run_id) == col(MatchRun.id))
            .where(MatchRunOrder.order_id == order_id)
            .order_by(col(MatchRun.id).desc())
        ).all()
    )


def latest_run(session: Session, order_id: int) -> MatchRun | None:
    return session.exec(
        select(MatchRun)
        .join(MatchRunOrder, col(MatchRunOrder.match_run_id) == col(MatchRun.id))
        .where(MatchRunOrder.order_id == order_id)
        .order_by(col(MatchRun.id).desc())
        .limit(1)
    ).first()
