"""Paying the factories: each factory's accepted price for an order, less what the buyer
got back of it in a dispute, less the platform's fee, in one transfer to its connected
account, once the buyer confirmed delivery (or the dispute window closed, or an operator
settled a dispute). A factory whose account cannot receive payouts yet still gets work;
its payout waits, visibly, and goes out once the gateway says the account is ready.

Accounts: the factory's owner starts onboarding from the factory's page; the account and
its onboarding link are made by the worker (gateway calls), and the page takes the owner
there. Whether payouts are enabled comes from the gateway: its `account.updated` event,
a look when the owner comes back from onboarding, and another before each payout.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, col, select

from factories.errors import N_, Conflict, NotFound
from factories.ledger import EventKind
from factories.models import Factory, id_of
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.db import Database
from marketplace.orders.models import Order
from marketplace.orders.notify import events
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments import operations
from marketplace.payments.gateways.base import AccountResult, Gateway
from marketplace.payments.models import (
    ConnectedAccount,
    GatewayOperation,
    Payment,
    Payout,
    PayoutState,
)
from marketplace.payments.money import payout_figures

# Owed to the factory, not yet sent.
OWED = (PayoutState.WAITING, PayoutState.QUEUED)


def account_of(session: Session, factory_id: int) -> ConnectedAccount | None:
    return session.exec(
        select(ConnectedAccount).where(ConnectedAccount.factory_id == factory_id)
    ).first()


def schedule_payouts(
    session: Session,
    order: Order,
    payment: Payment,
    refunded: dict[int, int],
    *,
    fee_bps: int,
) -> list[Payout]:
    """One payout per factory of the order: queued if its account can receive it, else
    waiting. Never twice for an order and a factory."""
    payouts = []
    shares = accepted_shares(session, id_of(order))
    borne = borne_by_platform(payment, shares, refunded, fee_bps)
    for factory_id, share in sorted(shares.items()):
        key = f"order:{order.id}:factory:{factory_id}:transfer:v1"
        if session.exec(select(Payout).where(Payout.idempotency_key == key)).first():
            continue
        figures = payout_figures(share, refunded.get(factory_id, 0), fee_bps)
        if borne.get(factory_id):
            figures = replace(figures, fee_minor=figures.fee_minor - borne[factory_id])
        account = account_of(session, factory_id)
        ready = account is not None and account.payouts_enabled
        payout = Payout(
            order_id=id_of(order),
            factory_id=factory_id,
            payment_id=id_of(payment),
            share_minor=figures.share_minor,
            refunded_minor=figures.refunded_minor,
            fee_minor=figures.fee_minor,
            amount_minor=figures.amount_minor,
            currency=payment.currency,
            state=PayoutState.QUEUED if ready else PayoutState.WAITING,
            idempotency_key=key,
        )
        session.add(payout)
        session.flush()
        if ready:
            operations.enqueue(session, "transfer", id_of(payout), key)
        payouts.append(payout)
    return payouts


def borne_by_platform(
    payment: Payment, shares: dict[int, int], refunded: dict[int, int], fee_bps: int
) -> dict[int, int]:
    """Per factory, how much of its fee the platform gives up so that the payouts fit in
    what the payment still holds. Only paid work re-placed after an outage can cost a few
    minor units more than was paid (docs/payments.md); the factories' amounts never
    change, the platform's fees absorb it, the largest fee first."""
    owed = sum(share - refunded.get(f, 0) for f, share in shares.items())
    gap = owed - (payment.amount_minor - payment.refunded_minor)
    borne: dict[int, int] = {}
    if gap <= 0:
        return borne
    fees = {f: payout_figures(s, refunded.get(f, 0), fee_bps).fee_minor for f, s in shares.items()}
    for factory_id in sorted(fees, key=lambda f: (-fees[f], f)):
        take = min(gap, fees[factory_id])
        if take:
            borne[factory_id] = take
            gap -= take
    return borne


def payouts_of_order(session: Session, order_id: int) -> list[Payout]:
    return list(
        session.exec(
            select(Payout).where(Payout.order_id == order_id).order_by(col(Payout.factory_id))
        ).all()
    )


def payouts_of_factories(session: Session, factory_ids: list[int]) -> list[Payout]:
    return list(
        session.exec(
            select(Payout)
            .where(col(Payout.factory_id).in_(factory_ids))
            .order_by(col(Payout.id).desc())
        ).all()
    )


def _transfer_call(
    database: Database, gateway: Gateway, operation: GatewayOperation
) -> tuple[bool, str]:
    """Look again whether the account can receive payouts; then transfer."""
    with database.session() as session:
        payout = session.get_one(Payout, operation.subject_id)
        payment = session.get_one(Payment, payout.payment_id)
        account = account_of(session, payout.factory_id)
        account_id = account.account_id if account else ""
        amount, currency = payout.amount_minor, payout.currency
        charge, group = payment.charge_id, f"order-{payout.order_id}"
        # The payout's own key: however often it is queued, the gateway pays it once.
        key = payout.idempotency_key
    if not account_id or not gateway.retrieve_account(account_id).payouts_enabled:
        return False, ""
    if amount == 0:  # all of the share went back to the buyer
        return True, ""
    return True, gateway.transfer(
        amount_minor=amount,
        currency=currency,
        account_id=account_id,
        source_charge=charge,
        transfer_group=group,
        idempotency_key=key,
    )


def _apply_transfer(
    session: Session, operation: GatewayOperation, result: tuple[bool, str], now: datetime
) -> None:
    sent, transfer_id = result
    payout = session.get_one(Payout, operation.subject_id)
    if not sent:
        # Not ready after all: it waits, and goes out when the account is.
        payout.state = PayoutState.WAITING
        account = account_of(session, payout.factory_id)
        if account is not None:
            account.payouts_enabled = False
        return
    mark_sent(session, payout, transfer_id, now)


def mark_sent(session: Session, payout: Payout, transfer_id: str, now: datetime) -> None:
    if payout.state == PayoutState.SENT:
        return
    payout.state = PayoutState.SENT
    payout.transfer_id = payout.transfer_id or transfer_id
    payout.sent_at = now
    records.money(
        session,
        EventKind.PAID_OUT,
        payout.order_id,
        payout.amount_minor,
        payout.currency,
        factory_id=payout.factory_id,
    )
    factory = session.get(Factory, payout.factory_id)
    order = session.get(Order, payout.order_id)
    if factory is not None and order is not None:
        events.notify(
            session,
            [factory.organization_id],
            "payout.sent",
            order_id=order.id,
            title=order.title,
            amount_minor=payout.amount_minor,
            currency=payout.currency,
        )


operations.handles("transfer", _transfer_call, _apply_transfer)


# --- connected accounts ---


def start_onboarding(
    session: Session,
    principal: Principal,
    factory_id: int,
    *,
    gateway: Gateway,
    return_url: str,
    refresh_url: str,
) -> ConnectedAccount:
    """The factory's owner asks to be paid: its account (made once) and a fresh
    onboarding link, both by the worker after the commit."""
    factory = session.get(Factory, factory_id)
    if (
        factory is None
        or not principal.is_factory
        or not principal.acts_for(factory.organization_id)
    ):
        raise NotFound(f"factory {factory_id}")
    account = account_of(session, factory_id)
    if account is None:
        account = ConnectedAccount(
            factory_id=factory_id,
            gateway=gateway.name,
            idempotency_key=f"factory:{factory_id}:account:v1",
        )
        session.add(account)
        session.flush()
    elif account.payouts_enabled:
        raise Conflict(N_("this factory already receives payouts"))
    account.onboarding_url = ""
    links = session.exec(
        select(GatewayOperation).where(
            col(GatewayOperation.idempotency_key).startswith(f"{account.idempotency_key}:link:")
        )
    ).all()
    operations.enqueue(
        session,
        "create_account",
        id_of(account),
        f"{account.idempotency_key}:link:{len(links) + 1}",
        {"return_url": return_url, "refresh_url": refresh_url},
    )
    return account


def _create_account_call(
    database: Database, gateway: Gateway, operation: GatewayOperation
) -> tuple[str, str]:
    with database.session() as session:
        account = session.get_one(ConnectedAccount, operation.subject_id)
        factory = session.get_one(Factory, account.factory_id)
        account_id, key = account.account_id, account.idempotency_key
        country, factory_id = factory.country, factory.id
    if not account_id:
        account_id = gateway.create_account(
            country=country,
            email="",
            idempotency_key=key,
            metadata={"factory_id": str(factory_id)},
        )
    url = gateway.onboarding_link(
        account_id=account_id,
        refresh_url=operation.payload["refresh_url"],
        return_url=operation.payload["return_url"],
        idempotency_key=operation.idempotency_key,
    )
    return account_id, url


def _apply_account_link(
    session: Session, operation: GatewayOperation, result: tuple[str, str], now: datetime
) -> None:
    account = session.get_one(ConnectedAccount, operation.subject_id)
    account.account_id, account.onboarding_url = result
    account.updated_at = now


def refresh_account(session: Session, account: ConnectedAccount, reason: str) -> None:
    """Look at the gateway again (the owner came back from onboarding)."""
    operations.enqueue(
        session,
        "sync_account",
        id_of(account),
        f"{account.idempotency_key}:sync:{reason}",
    )


def _sync_account_call(
    database: Database, gateway: Gateway, operation: GatewayOperation
) -> AccountResult:
    with database.session() as session:
        account_id = session.get_one(ConnectedAccount, operation.subject_id).account_id
    return gateway.retrieve_account(account_id)


def _apply_account(
    session: Session, operation: GatewayOperation, result: AccountResult, now: datetime
) -> None:
    account = session.get_one(ConnectedAccount, operation.subject_id)
    apply_account(session, account, result, now)


def apply_account(
    session: Session, account: ConnectedAccount, result: AccountResult, now: datetime
) -> None:
    """What the gateway says of an account; payouts waiting for it go out once it can
    receive them."""
    account.payouts_enabled = result.payouts_enabled
    account.details_submitted = result.details_submitted
    account.updated_at = now
    if not account.payouts_enabled:
        return
    for payout in session.exec(
        select(Payout).where(
            Payout.factory_id == account.factory_id, Payout.state == PayoutState.WAITING
        )
    ):
        payout.state = PayoutState.QUEUED
        operations.enqueue(
            session,
            "transfer",
            id_of(payout),
            f"{payout.idempotency_key}:after:{int(now.timestamp())}",
        )


operations.handles("create_account", _create_account_call, _apply_account_link)
operations.handles("sync_account", _sync_account_call, _apply_account)
