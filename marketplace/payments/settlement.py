"""When the factories are paid: at delivery (the buyer's confirmation, or the dispute
window closing without a dispute, after which the order closes by itself), or when an
operator settles a dispute, deciding per factory how much of its share goes back to the
buyer (0 to all of it; the rest is paid out)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from factories.errors import N_, Conflict
from factories.models import Factory, id_of
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.orders import access
from marketplace.orders.models import Dispute, DisputeState, Order, OrderState
from marketplace.orders.posting.service import lock_orders
from marketplace.orders.production.disputes import resolve_dispute
from marketplace.orders.production.service import close_by_window, deliver
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments import refunds
from marketplace.payments.charges import captured_payment
from marketplace.payments.errors import PaymentError
from marketplace.payments.payouts import schedule_payouts
from marketplace.payments.settings import PaymentSettings
from marketplace.web.labels import money


def on_order_delivered(
    order: Order, *, session: Session, now: datetime, settings: PaymentSettings
) -> None:
    """Delivered: every factory's share goes out, less the platform's fee."""
    payment = captured_payment(session, id_of(order))
    if payment is not None:
        schedule_payouts(session, order, payment, {}, fee_bps=settings.fee_bps)


def deliver_after_window(session: Session, now: datetime, settings: PaymentSettings) -> int:
    """Shipped orders the buyer neither confirmed nor disputed within the window are
    delivered (the factories are paid) and close by themselves."""
    due = session.exec(
        select(Order.id).where(
            Order.state == OrderState.SHIPPED,
            col(Order.shipped_at) < now - settings.dispute_window,
        )
    ).all()
    closed = 0
    for order in lock_orders(session, list(due)):  # type: ignore[arg-type]
        if order.state == OrderState.SHIPPED:
            deliver(session, order, how="window")
            close_by_window(session, order)
            closed += 1
    return closed


def resolve_with_refunds(
    session: Session,
    principal: Principal,
    dispute_id: int,
    resolution: str,
    refunded: dict[int, int],
    *,
    currency: str | None,
    settings: PaymentSettings,
) -> Dispute:
    """An operator settles a dispute: `refunded` gives, per factory of the order, how much
    of its share goes back to the buyer (minor units of the order's currency; a factory
    not named gets 0 back). The refunds are made and the rest paid out; the order closes."""
    dispute = access.dispute_for_operator(session, principal, dispute_id)
    if dispute.state != DisputeState.OPEN:
        raise Conflict(N_("the dispute is already resolved"))
    [order] = lock_orders(session, [dispute.order_id])
    if currency is not None and currency != order.currency:
        raise PaymentError(
            "currency", N_("must be the order's currency, %(currency)s", currency=order.currency)
        )
    shares = accepted_shares(session, id_of(order))
    problems = []
    for index, (factory_id, amount) in enumerate(refunded.items()):
        field = f"refunds[{index}]"
        if factory_id not in shares:
            problems.append((f"{field}.factory_id", N_("is not a factory of this order")))
        elif not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            problems.append((f"{field}.amount_minor", N_("must be a whole amount, 0 or more")))
        elif amount > shares[factory_id]:
            name = session.get(Factory, factory_id)
            problems.append(
                (
                    f"{field}.amount_minor",
                    N_(
                        "must be at most %(factory)s's share, %(share)s",
                        factory=name.name if name else factory_id,
                        share=money(shares[factory_id], order.currency),
                    ),
                )
            )
    if problems:
        raise PaymentError.of(problems)
    payment = captured_payment(session, id_of(order))
    outcomes = {
        factory_id: records.outcome_of(refunded.get(factory_id, 0), share)
        for factory_id, share in shares.items()
    }
    resolved = resolve_dispute(session, principal, dispute_id, resolution, outcomes)
    if payment is None:
        return resolved
    session.refresh(payment, with_for_update=True)
    for factory_id, amount in sorted(refunded.items()):
        if amount > 0:
            refunds.refund(
                session,
                payment,
                amount,
                reason="dispute",
                key=f"order:{order.id}:factory:{factory_id}:refund:v1",
                factory_id=factory_id,
            )
    schedule_payouts(session, order, payment, refunded, fee_bps=settings.fee_bps)
    return resolved
