"""Headline figures of the marketplace, as shown on the landing page."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import Factory, FactoryStatus
from marketplace.orders.models import Order, OrderState

# Orders a factory could still win or is working on.
OPEN_STATES = (OrderState.OPEN, OrderState.MATCHING, OrderState.PROPOSED)


@dataclass(frozen=True)
class MarketplaceNumbers:
    verified_factories: int
    regions: int
    open_orders: int
    orders_in_production: int


def marketplace_numbers(session: Session) -> MarketplaceNumbers:
    verified = Factory.status == FactoryStatus.VERIFIED
    factories, regions = session.exec(
        select(
            sa.func.count(col(Factory.id)), sa.func.count(sa.distinct(col(Factory.region)))
        ).where(verified)
    ).one()
    by_state = dict(
        session.exec(
            select(col(Order.state), sa.func.count(col(Order.id))).group_by(col(Order.state))
        ).all()
    )
    return MarketplaceNumbers(
        verified_factories=factories,
        regions=regions,
        open_orders=sum(by_state.get(state, 0) for state in OPEN_STATES),
        orders_in_production=by_state.get(OrderState.IN_PRODUCTION, 0),
    )
