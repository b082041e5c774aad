"""What re-placed paid work may cost: never more than the buyer paid for it.

When an operator's outage takes paid work off an order line (docs/operator.md), the line
keeps what the buyer paid for it (`OrderLine.paid_price_minor`). Its unaccepted work is
then offered only to factories whose price for it fits in that amount less the prices
already accepted on the line, so the buyer is never asked for more; what the new
factories charge less is refunded once every hour is accepted again
(docs/payments.md). A what-if re-plans a confirmed order's reopened accepted work under
the same ceiling, so that it shows what applying would do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from sqlmodel import Session, col, select

from factories.models import among, id_of
from marketplace.orders.models import Order, OrderLine, OrderState, Proposal, ProposalState


def accepted_prices(session: Session, order_ids: Sequence[int]) -> dict[int, int]:
    """Per order line, the prices of its accepted proposals (minor units)."""
    prices: dict[int, int] = defaultdict(int)
    if not order_ids:
        return prices
    for line_id, price in session.exec(
        select(Proposal.order_line_id, Proposal.price_minor).where(
            among(col(Proposal.order_id), order_ids), Proposal.state == ProposalState.ACCEPTED
        )
    ).all():
        prices[line_id] += price
    return prices


def price_ceilings(
    session: Session,
    lines: Sequence[OrderLine],
    orders: Mapping[int, Order],
    reopened: Collection[int] = (),
) -> dict[int, int]:
    """Per line of paid work being re-placed, the most its unaccepted work may cost."""
    order_ids = sorted({line.order_id for line in lines})
    total = accepted_prices(session, order_ids)
    reopened_prices: dict[int, int] = defaultdict(int)
    if reopened:
        for line_id, price in session.exec(
            select(Proposal.order_line_id, Proposal.price_minor).where(
                col(Proposal.id).in_(sorted(reopened))
            )
        ).all():
            reopened_prices[line_id] += price
    ceilings = {}
    for line in lines:
        line_id = id_of(line)
        paid = line.paid_price_minor
        if paid is None and orders[line.order_id].state == OrderState.CONFIRMED:
            if line_id not in reopened_prices:
                continue
            paid = total[line_id]
        if paid is not None:
            ceilings[line_id] = max(0, paid - (total[line_id] - reopened_prices[line_id]))
    return ceilings
