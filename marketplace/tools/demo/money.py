"""The demo's money, as the payments area would have left it on the simulated gateway:
most factories have a payout account, orders waiting for payment have a deadline, every
order from `confirmed` on was paid, shipped orders are in their dispute window, and
delivered and closed orders paid their factories (those without an account wait). The
simulated gateway's own books hold the same payments, accounts and transfers, so that
`factoryweb payments reconcile` agrees with the demo."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from marketplace.bulk import insert_rows
from marketplace.orders.models import Order, OrderState, Proposal, ProposalState
from marketplace.payments.models import (
    ConnectedAccount,
    Payment,
    PaymentState,
    Payout,
    PayoutState,
    SimulatedObject,
)
from marketplace.payments.money import payout_figures
from marketplace.payments.settings import DEFAULTS

GATEWAY = "simulated"
PAID = {
    OrderState.CONFIRMED,
    OrderState.IN_PRODUCTION,
    OrderState.SHIPPED,
    OrderState.DELIVERED,
    OrderState.CLOSED,
    OrderState.DISPUTED,
}
PAID_OUT = {OrderState.DELIVERED, OrderState.CLOSED}
WITH_ACCOUNT = 0.85


@dataclass
class DemoMoney:
    accounts: int = 0
    payments: int = 0
    payouts: int = 0


def insert_money(
    session: Session,
    rng: random.Random,
    factory_ids: list[int],
    order_ids: list[int],
    now: datetime,
) -> DemoMoney:
    figures = DemoMoney()
    fee_bps = int(DEFAULTS["PLATFORM_FEE_BPS"])
    objects: list[dict[str, Any]] = []
    ready = {f for f in factory_ids if rng.random() < WITH_ACCOUNT}
    accounts = []
    for factory_id in sorted(ready):
        account_id = f"acct_sim_demo{factory_id}"
        accounts.append(
            {
                "factory_id": factory_id,
                "gateway": GATEWAY,
                "account_id": account_id,
                "payouts_enabled": True,
                "details_submitted": True,
                "idempotency_key": f"factory:{factory_id}:account:v1",
                "created_at": now,
                "updated_at": now,
            }
        )
        objects.append(
            _object(account_id, "account", f"factory:{factory_id}:account:v1",
                    {"country": "", "payouts_enabled": True, "details_submitted": True,
                     "metadata": {"factory_id": str(factory_id)}}, now)
        )  # fmt: skip
    insert_rows(session, ConnectedAccount, accounts)
    figures.accounts = len(accounts)

    orders = session.exec(select(Order).where(col(Order.id).in_(order_ids))).all()
    shares: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for proposal in session.exec(
        select(Proposal).where(
            col(Proposal.order_id).in_(order_ids), Proposal.state == ProposalState.ACCEPTED
        )
    ):
        shares[proposal.order_id][proposal.factory_id] += proposal.price_minor
    payments, paid_out = [], []
    for order in orders:
        if order.state == OrderState.AWAITING_PAYMENT:
            order.payment_requested_at = now - timedelta(hours=rng.randint(1, 48))
        if order.state == OrderState.SHIPPED:
            order.shipped_at = now - timedelta(days=rng.randint(0, 5))
        total = sum(shares[order.id or 0].values())
        if order.state not in PAID or total <= 0:
            continue
        intent_id, charge_id = f"pi_sim_demo{order.id}", f"ch_sim_demo{order.id}"
        key = f"order:{order.id}:payment:1:v1"
        captured_at = order.confirmed_at or order.updated_at or now
        payments.append(
            {
                "order_id": order.id,
                "attempt": 1,
                "gateway": GATEWAY,
                "state": PaymentState.CAPTURED,
                "amount_minor": total,
                "currency": order.currency,
                "payment_method": "pm_card_visa",
                "intent_id": intent_id,
                "charge_id": charge_id,
                "idempotency_key": key,
                "created_at": captured_at,
                "captured_at": captured_at,
            }
        )
        objects.append(
            _object(intent_id, "payment", key,
                    {"amount": total, "currency": order.currency, "status": "succeeded",
                     "charge": charge_id, "metadata": {"order_id": str(order.id)}}, now)
        )  # fmt: skip
        if order.state in PAID_OUT:
            paid_out.append(order)
    payment_ids = dict(
        zip(
            [p["order_id"] for p in payments],
            insert_rows(session, Payment, payments),
            strict=True,
        )
    )
    figures.payments = len(payments)

    payouts = []
    for order in paid_out:
        for factory_id, share in sorted(shares[order.id or 0].items()):
            payout = payout_figures(share, 0, fee_bps)
            key = f"order:{order.id}:factory:{factory_id}:transfer:v1"
            sent = factory_id in ready
            transfer_id = f"tr_sim_demo{order.id}x{factory_id}" if sent else ""
            payouts.append(
                {
                    "order_id": order.id,
                    "factory_id": factory_id,
                    "payment_id": payment_ids[order.id or 0],
                    "share_minor": share,
                    "refunded_minor": 0,
                    "fee_minor": payout.fee_minor,
                    "amount_minor": payout.amount_minor,
                    "currency": order.currency,
                    "state": PayoutState.SENT if sent else PayoutState.WAITING,
                    "transfer_id": transfer_id,
                    "idempotency_key": key,
                    "created_at": order.delivered_at or now,
                    "sent_at": (order.delivered_at or now) if sent else None,
                }
            )
            if sent:
                objects.append(
                    _object(transfer_id, "transfer", key,
                            {"amount": payout.amount_minor, "currency": order.currency,
                             "destination": f"acct_sim_demo{factory_id}",
                             "source_transaction": f"ch_sim_demo{order.id}",
                             "transfer_group": f"order-{order.id}"}, now)
                )  # fmt: skip
    insert_rows(session, Payout, payouts)
    figures.payouts = len(payouts)
    insert_rows(session, SimulatedObject, objects)
    session.flush()
    return figures


def _object(
    object_id: str, kind: str, key: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {"object_id": object_id, "kind": kind, "idempotency_key": key, "data": data,
            "created_at": now}  # fmt: skip
