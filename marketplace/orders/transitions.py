"""The life of an order: the one table of allowed state changes, and the check on it.

    draft -> open -> matching -> proposed -> awaiting_payment -> confirmed
          -> in_production -> shipped -> delivered -> closed,
    with cancelled and disputed on the side.

`matching` is a solver run in flight; `proposed` means factories are deciding on
proposals; `open` means work is still unplaced and nothing is pending. Once every hour is
accepted the buyer pays (`awaiting_payment`, until the payment deadline, else back to
open); paid, the order is `confirmed`. Paid work an operator's outage takes away is
re-placed (confirmed -> matching), the payment staying held until every hour is accepted
again. A paid order may still be cancelled before
production starts (refunded in full). Confirming delivery accepts the work and pays the
factories; a buyer who disagrees opens a dispute instead.
The states and what each party may do in them: docs/order-lifecycle.md.
"""

from __future__ import annotations

from typing import Any

from factories.errors import Conflict
from marketplace.orders.models import Order, OrderState

S = OrderState

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.DRAFT: frozenset({S.OPEN, S.CANCELLED}),
    S.OPEN: frozenset({S.MATCHING, S.CANCELLED}),
    S.MATCHING: frozenset({S.PROPOSED, S.OPEN, S.AWAITING_PAYMENT, S.CANCELLED}),
    S.PROPOSED: frozenset({S.MATCHING, S.OPEN, S.AWAITING_PAYMENT, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.CONFIRMED, S.OPEN, S.CANCELLED}),
    # An operator's outage re-places paid work not yet in production (the money stays held).
    S.CONFIRMED: frozenset({S.IN_PRODUCTION, S.MATCHING, S.CANCELLED}),
    S.IN_PRODUCTION: frozenset({S.SHIPPED, S.DISPUTED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.DISPUTED}),
    S.DELIVERED: frozenset({S.CLOSED}),
    S.DISPUTED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


class TransitionError(Conflict):
    """The order cannot go to `target` from where it is; `allowed` says where it can."""

    code = "invalid_transition"

    def __init__(self, order: Order, target: OrderState) -> None:
        self.order_id = order.id
        self.state = OrderState(order.state)
        self.target = target
        self.allowed = sorted(TRANSITIONS[self.state])
        super().__init__(
            f"order {order.id} cannot go from {self.state} to {target}; "
            f"allowed: {', '.join(self.allowed) or 'none'}"
        )

    def details(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "target": str(self.target),
            "allowed": [str(s) for s in self.allowed],
        }


def allowed_targets(order: Order) -> list[OrderState]:
    return sorted(TRANSITIONS[OrderState(order.state)])


def can_move(order: Order, target: OrderState) -> bool:
    return target in TRANSITIONS[OrderState(order.state)]


def move(order: Order, target: OrderState) -> None:
    """Change the order's state if the table allows it, else raise TransitionError."""
    if not can_move(order, target):
        raise TransitionError(order, target)
    order.state = target
