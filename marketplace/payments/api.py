"""Money in the REST API: pay an order, read its money, settle a dispute with refunds,
a factory's payouts and its onboarding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for
from pydantic import BaseModel, Field
from sqlmodel import select

from factories.errors import NotFound
from factories.models import Factory, id_of, utcnow
from marketplace import db
from marketplace.accounts.access import require_principal, roles_required, scope_required
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.orders import access
from marketplace.orders.models import Order
from marketplace.orders.schemas import OrderPath
from marketplace.payments import charges, payouts, presenters, settlement
from marketplace.payments.blueprints import PAYMENTS, api
from marketplace.payments.errors import PaymentError
from marketplace.payments.models import Payment, Payout
from marketplace.payments.settings import current
from marketplace.supply.schemas import FactoryPath


class DisputePath(BaseModel):
    dispute_id: int


class PayIn(BaseModel):
    payment_method: str = Field(
        description="a payment method id: made by Stripe.js from the buyer's card, or, on "
        "the simulated gateway, pm_card_visa (pays) or pm_card_chargeCustomerFail (declined)"
    )


class PaymentOut(BaseModel):
    id: int
    order_id: int
    attempt: int
    gateway: str = Field(description="stripe, or simulated (no money moves)")
    state: str = Field(description="processing, captured, failed or canceled")
    amount_minor: int
    refunded_minor: int
    currency: str
    failure: str
    created_at: datetime
    captured_at: datetime | None


class RefundOut(BaseModel):
    id: int
    factory_id: int | None
    amount_minor: int
    currency: str
    reason: str
    state: str
    created_at: datetime


class PayoutOut(BaseModel):
    id: int
    order_id: int
    factory_id: int
    share_minor: int = Field(description="the factory's accepted price")
    refunded_minor: int = Field(description="what the buyer got back of it")
    fee_minor: int = Field(description="the platform's fee")
    amount_minor: int = Field(description="what the factory receives")
    currency: str
    state: str = Field(description="waiting (onboarding unfinished), queued, sent or failed")
    sent_at: datetime | None


class BooksOut(BaseModel):
    captured: int
    refunded: int
    transferred: int
    fees: int
    held: int


class OrderMoneyOut(BaseModel):
    order_id: int
    gateway: str
    currency: str
    due_minor: int = Field(description="what the buyer is asked to pay now (0 if nothing)")
    payment_deadline: datetime | None
    payments: list[PaymentOut] = Field(description="for the buyer and operators")
    refunds: list[RefundOut] = Field(description="for the buyer and operators")
    payouts: list[PayoutOut] = Field(description="a factory sees its own only")
    books: BooksOut | None = Field(None, description="for the buyer and operators")


class RefundDecision(BaseModel):
    factory_id: int
    amount_minor: int = Field(description="of the factory's share, back to the buyer")


class ResolveIn(BaseModel):
    resolution: str
    currency: str | None = Field(None, description="the order's currency, if given")
    refunds: list[RefundDecision] = Field(
        default_factory=list, description="factories not named get nothing back"
    )


class PayoutList(BaseModel):
    payouts: list[PayoutOut]


class OnboardingOut(BaseModel):
    factory_id: int
    payouts_enabled: bool
    onboarding_url: str = Field(description="empty until the provider made it; ask again")


def _money(order: Order) -> dict[str, Any]:
    payments = current()
    panel = presenters.money_panel(
        db.session(),
        require_principal(),
        order,
        gateway=payments.gateway.name,
        settings=payments.settings,
        now=utcnow(),
    )
    books = panel.books
    return OrderMoneyOut(
        order_id=id_of(order),
        gateway=panel.gateway,
        currency=order.currency,
        due_minor=panel.due_minor,
        payment_deadline=panel.deadline,
        payments=[PaymentOut.model_validate(p, from_attributes=True) for p in panel.payments],
        refunds=[RefundOut.model_validate(r, from_attributes=True) for r in panel.refunds],
        payouts=[PayoutOut.model_validate(p, from_attributes=True) for p in panel.payouts],
        books=BooksOut(
            captured=books.captured,
            refunded=books.refunded,
            transferred=books.transferred,
            fees=books.fees,
            held=books.held,
        )
        if panel.sees_whole
        else None,
    ).model_dump(mode="json")


@api.post("/orders/<int:order_id>/payment", tags=[PAYMENTS], responses={202: PaymentOut})
@scope_required("orders:write")
def post_payment(path: OrderPath, body: PayIn) -> ApiAnswer:
    """The buyer pays the order's accepted total (once every hour is accepted, before the
    payment deadline). Taken by the gateway right after: poll GET .../payment."""
    session, principal = db.session(), require_principal()
    payments = current()
    payment: Payment = charges.pay(
        session,
        principal,
        path.order_id,
        body.payment_method,
        gateway=payments.gateway,
        settings=payments.settings,
        now=utcnow(),
    )
    return PaymentOut.model_validate(payment, from_attributes=True).model_dump(mode="json"), 202


@api.get("/orders/<int:order_id>/payment", tags=[PAYMENTS], responses={200: OrderMoneyOut})
@scope_required("orders:read")
def get_payment(path: OrderPath) -> ApiAnswer:
    """The order's money as the caller may see it."""
    session, principal = db.session(), require_principal()
    return _money(access.order_for(session, principal, path.order_id))


@api.post("/disputes/<int:dispute_id>/resolve", tags=[PAYMENTS], responses={200: OrderMoneyOut})
@roles_required(Role.OPERATOR)
def post_resolution(path: DisputePath, body: ResolveIn) -> ApiAnswer:
    """An operator settles a dispute: per factory, how much of its share goes back to the
    buyer; the rest is paid out, and the order closes."""
    session, principal = db.session(), require_principal()
    decisions: dict[int, int] = {}
    for index, decision in enumerate(body.refunds):
        if decision.factory_id in decisions:
            raise PaymentError(f"refunds[{index}].factory_id", "is named twice")
        decisions[decision.factory_id] = decision.amount_minor
    dispute = settlement.resolve_with_refunds(
        session,
        principal,
        path.dispute_id,
        body.resolution,
        decisions,
        currency=body.currency,
        settings=current().settings,
    )
    order = session.get_one(Order, dispute.order_id)
    return _money(order)


@api.get("/payouts", tags=[PAYMENTS], responses={200: PayoutList})
@scope_required("proposals:read")
def list_payouts() -> ApiAnswer:
    """What the caller's factories are owed, what is on its way and what arrived."""
    session, principal = db.session(), require_principal()
    if not principal.is_factory:
        return {"payouts": []}
    factory_ids = session.exec(
        select(Factory.id).where(Factory.organization_id == principal.organization_id)
    ).all()
    rows: list[Payout] = payouts.payouts_of_factories(session, [i for i in factory_ids if i])
    return {
        "payouts": [
            PayoutOut.model_validate(p, from_attributes=True).model_dump(mode="json") for p in rows
        ]
    }


@api.post(
    "/factories/<int:factory_id>/payouts/onboarding",
    tags=[PAYMENTS],
    responses={202: OnboardingOut},
)
@roles_required(Role.FACTORY_OWNER)
def post_onboarding(path: FactoryPath) -> ApiAnswer:
    """The factory's owner starts (or resumes) onboarding with the payment provider; the
    link to follow appears in `onboarding_url` a moment later (ask again)."""
    session, principal = db.session(), require_principal()
    account = payouts.start_onboarding(
        session,
        principal,
        path.factory_id,
        gateway=current().gateway,
        return_url=url_for(
            "payments.onboarding_return", factory_id=path.factory_id, _external=True
        ),
        refresh_url=url_for("payments.payouts_page", _external=True),
    )
    return OnboardingOut(
        factory_id=path.factory_id, payouts_enabled=account.payouts_enabled, onboarding_url=""
    ).model_dump(), 202


@api.get(
    "/factories/<int:factory_id>/payouts/onboarding",
    tags=[PAYMENTS],
    responses={200: OnboardingOut},
)
@roles_required(Role.FACTORY_OWNER)
def get_onboarding(path: FactoryPath) -> ApiAnswer:
    session, principal = db.session(), require_principal()
    factory = session.get(Factory, path.factory_id)
    if factory is None or not principal.acts_for(factory.organization_id):
        raise NotFound(f"factory {path.factory_id}")
    account = payouts.account_of(session, path.factory_id)
    return OnboardingOut(
        factory_id=path.factory_id,
        payouts_enabled=bool(account and account.payouts_enabled),
        onboarding_url=account.onboarding_url if account else "",
    ).model_dump()
