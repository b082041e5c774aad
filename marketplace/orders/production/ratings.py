"""Ratings: after an order closes, the buyer rates each factory that worked on it and
each factory rates the buyer, once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.errors import N_, Conflict, NotFound
from factories.models import too_long
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.orders import access
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    OrderState,
    Rating,
)
from marketplace.orders.notify import events

# The buyer rates right after confirming delivery; the order's closing need not wait.
RATEABLE = (OrderState.DELIVERED, OrderState.CLOSED)


def rate(
    session: Session,
    principal: Principal,
    order_id: int,
    score: int,
    comment: str = "",
    factory_id: int | None = None,
) -> Rating:
    """Once delivered: the buyer rates a factory of the order, a factory rates the buyer."""
    order = access.order_for(session, principal, order_id)
    if order.state not in RATEABLE:
        raise Conflict(N_("ratings open once the order is delivered"))
    problems = []
    if not 1 <= score <= 5:
        problems.append(("score", N_("must be between 1 and 5")))
    comment = comment.strip()
    if message := too_long(comment, Rating, "comment"):
        problems.append(("comment", message))
    if problems:
        raise OrderError.of(problems)
    factories = access.participants(session, order_id)
    if principal.acts_for(order.buyer_organization_id):
        target = next((f for f in factories if f.id == factory_id), None)
        if target is None:
            raise OrderError("factory_id", N_("name a factory that worked on this order"))
        to_organization, rated_factory = target.organization_id, target.id
    elif principal.is_factory and any(principal.acts_for(f.organization_id) for f in factories):
        to_organization, rated_factory = order.buyer_organization_id, None
    else:
        raise NotFound(f"order {order_id}")
    exists = session.exec(
        select(sa.func.count(col(Rating.id))).where(
            Rating.order_id == order_id,
            Rating.from_organization_id == principal.organization_id,
            Rating.to_organization_id == to_organization,
        )
    ).one()
    if exists:
        raise Conflict(N_("you have already rated this order"))
    rating = Rating(
        order_id=order_id,
        from_organization_id=principal.organization_id,
        to_organization_id=to_organization,
        factory_id=rated_factory,
        score=score,
        comment=comment,
        created_by_id=principal.user_id,
    )
    session.add(rating)
    records.rating(session, order_id, rated_factory, to_organization, score)
    events.notify(
        session,
        [to_organization],
        "rating.received",
        order_id=order_id,
        title=order.title,
        score=score,
    )
    session.flush()
    return rating


def ratings_of(session: Session, order_id: int) -> list[Rating]:
    return list(
        session.exec(
            select(Rating).where(col(Rating.order_id) == order_id).order_by(col(Rating.id))
        ).all()
    )
