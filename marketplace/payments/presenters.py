"""What one principal sees of an order's money: the buyer and operators all of it (what
was paid, refunded, and each factory's payout); a factory its own payout only (owed, on
its way, arrived), never another factory's share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from factories.models import Factory, id_of
from marketplace.accounts.service import Principal
from marketplace.orders import access
from marketplace.orders.models import Order, OrderState
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments.books import books_from
from marketplace.payments.charges import IN_FLIGHT, accepted_total, payment_deadline, payments_of
from marketplace.payments.models import Payment, Payout, Refund
from marketplace.payments.money import Books
from marketplace.payments.payouts import payouts_of_order
from marketplace.payments.refunds import refunds_of
from marketplace.payments.settings import PaymentSettings


@dataclass
class MoneyPanel:
    order: Order
    gateway: str
    sees_whole: bool
    due_minor: int = 0  # what the buyer is asked to pay (awaiting payment)
    deadline: datetime | None = None
    can_pay: bool = False
    payments: list[Payment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    payouts: list[Payout] = field(default_factory=list)
    shares: dict[int, int] = field(default_factory=dict)
    factory_names: dict[int, str] = field(default_factory=dict)
    books: Books = field(default_factory=Books)

    @property
    def simulated(self) -> bool:
        return self.gateway == "simulated"

    @property
    def paid_minor(self) -> int:
        return self.books.captured

    @property
    def refunded_minor(self) -> int:
        return sum(r.amount_minor for r in self.refunds)


def money_panel(
    session: Session,
    principal: Principal,
    order: Order,
    *,
    gateway: str,
    settings: PaymentSettings,
    now: datetime,
) -> MoneyPanel:
    order_id = id_of(order)
    sees_whole = access.sees_whole_order(principal, order)
    panel = MoneyPanel(order=order, gateway=gateway, sees_whole=sees_whole)
    payouts = payouts_of_order(session, order_id)
    if sees_whole:
        panel.payments = payments_of(session, order_id)
        panel.refunds = refunds_of(session, order_id)
        panel.payouts = payouts
        panel.shares = accepted_shares(session, order_id)
        panel.books = books_from(panel.payments, panel.refunds, payouts).get(order_id, Books())
        if order.state == OrderState.AWAITING_PAYMENT:
            panel.due_minor = accepted_total(session, order)
            panel.deadline = payment_deadline(order, settings)
            panel.can_pay = (
                principal.acts_for(order.buyer_organization_id)
                and principal.is_buyer
                and not any(p.state in IN_FLIGHT for p in panel.payments)
                and (panel.deadline is None or now <= panel.deadline)
            )
    else:
        mine = {
            f.id for f in access.own_factories(principal, access.participants(session, order_id))
        }
        panel.payouts = [p for p in payouts if p.factory_id in mine]
    factory_ids = {p.factory_id for p in panel.payouts} | set(panel.shares)
    panel.factory_names = {
        id_of(f): f.name
        for f in session.exec(select(Factory).where(col(Factory.id).in_(sorted(factory_ids))))
    }
    return panel
