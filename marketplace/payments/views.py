"""Money on the web: the buyer's payment page, the dispute resolution with refunds, a
factory's payouts and its onboarding, the operators' view of the money, and Stripe's
webhook."""

from __future__ import annotations

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlmodel import col, select

from factories.capability import minor_units
from factories.errors import Conflict, InputError, NotFound
from factories.models import Factory, id_of, utcnow
from marketplace import db
from marketplace.accounts.access import login_required, require_principal, roles_required
from marketplace.accounts.models import Role
from marketplace.api.errors import FieldProblem, error_response
from marketplace.orders import access
from marketplace.orders.models import Order
from marketplace.orders.posting.views import order_page
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.payments import charges, payouts, presenters, settlement, webhooks
from marketplace.payments.blueprints import pages
from marketplace.payments.books import money_by_currency
from marketplace.payments.forms import PayForm, ResolveForm
from marketplace.payments.gateways.base import CARD_DECLINED, CARD_SUCCEEDS, BadEvent
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.models import (
    ConnectedAccount,
    GatewayOperation,
    OperationState,
    Payout,
    PayoutState,
)
from marketplace.payments.settings import current
from marketplace.web import csrf
from marketplace.web.forms import ActionForm, field_errors, refused, require_valid
from marketplace.web.labels import money


def _order_page(order_id: int) -> str:
    return url_for("orders.detail", order_id=order_id)


def _panel(order: Order) -> presenters.MoneyPanel:
    payments = current()
    return presenters.money_panel(
        db.session(),
        require_principal(),
        order,
        gateway=payments.gateway.name,
        settings=payments.settings,
        now=utcnow(),
    )


@pages.app_context_processor
def money_context() -> dict[str, object]:
    """The order page's money panel and dispute form, for the orders area's templates."""
    return {"order_money": _panel, "refund_form": ResolveForm}


# --- the buyer pays ---


@pages.route("/orders/<int:order_id>/pay", methods=["GET", "POST"])
@login_required
def pay(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    order = access.buyer_order_for(session, principal, order_id)
    payments = current()
    form = PayForm()
    status = 200
    if form.validate_on_submit():
        try:
            charges.pay(
                session,
                principal,
                order_id,
                form.payment_method.data or "",
                gateway=payments.gateway,
                settings=payments.settings,
                now=utcnow(),
            )
        except InputError as error:
            field_errors(form, error)
            status = 400
        except Conflict as error:
            refused(error)
            return redirect(_order_page(order_id), code=303)
        else:
            return redirect(_order_page(order_id), code=303)
    elif form.is_submitted():
        status = 400
    return render_template(
        "payments/pay.html",
        order=order,
        panel=_panel(order),
        form=form,
        cards=[
            (CARD_SUCCEEDS, _("A card that pays")),
            (CARD_DECLINED, _("A card that is declined")),
        ],
        publishable_key=current_app.config.get("STRIPE_PUBLISHABLE_KEY", ""),
        stripe_js=current_app.config.get("STRIPE_JS_URL") or "https://js.stripe.com/v3/",
    ), status


# --- an operator settles a dispute ---


@pages.post("/disputes/<int:dispute_id>/resolve")
@roles_required(Role.OPERATOR)
def resolve_dispute(dispute_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    dispute = access.dispute_for_operator(session, principal, dispute_id)
    order = session.get_one(Order, dispute.order_id)
    form = ResolveForm()
    require_valid(form)
    refunded: dict[int, int] = {}
    typed = {}
    problems = []
    for index, factory_id in enumerate(sorted(accepted_shares(session, id_of(order)))):
        raw = (request.form.get(f"refund_{factory_id}") or "0").strip()
        typed[str(factory_id)] = raw
        try:
            refunded[factory_id] = minor_units(raw, order.currency)
        except ValueError as error:
            problems.append((f"refunds[{index}].amount", str(error)))
    try:
        if problems:  # every amount that could not be read, at once
            raise InputError.of(problems)
        settlement.resolve_with_refunds(
            session,
            principal,
            dispute_id,
            form.resolution.data or "",
            refunded,
            currency=None,
            settings=current().settings,
        )
    except (InputError, Conflict) as error:
        refused(error)
        # The order page again, with the resolution and the amounts as typed.
        return order_page(id_of(order), 400, resolve_form=form, refund_values=typed)
    refunded_total = sum(refunded.values())
    if refunded_total:
        message = _(
            "Dispute resolved: %(amount)s go back to the buyer, the rest to the factories; "
            "the order is closed.",
            amount=money(refunded_total, order.currency),
        )
    else:
        message = _("Dispute resolved: the factories are paid; the order is closed.")
    flash(message)
    return redirect(_order_page(id_of(order)), code=303)


# --- a factory is paid ---


def _own_factories() -> list[Factory]:
    principal = require_principal()
    if not principal.is_factory:
        raise NotFound("payouts")
    return list(
        db.session().exec(
            select(Factory)
            .where(Factory.organization_id == principal.organization_id)
            .order_by(col(Factory.id))
        )
    )


@pages.get("/payouts")
@login_required
def payouts_page() -> ResponseReturnValue:
    session = db.session()
    factories = _own_factories()
    ids = [id_of(f) for f in factories]
    rows = payouts.payouts_of_factories(session, ids)
    orders = {
        o.id: o
        for o in session.exec(
            select(Order).where(col(Order.id).in_(sorted({p.order_id for p in rows}) or [0]))
        )
    }
    return render_template(
        "payments/payouts.html",
        factories=factories,
        accounts={f.id: payouts.account_of(session, id_of(f)) for f in factories},
        payouts=rows,
        orders=orders,
        gateway=current().gateway.name,
        action_form=ActionForm(),
        owed=[p for p in rows if p.state in payouts.OWED],
        sent=[p for p in rows if p.state == PayoutState.SENT],
    )


@pages.post("/payouts/<int:factory_id>/onboarding")
@login_required
def start_onboarding(factory_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    try:
        payouts.start_onboarding(
            session,
            principal,
            factory_id,
            gateway=current().gateway,
            return_url=url_for("payments.onboarding_return", factory_id=factory_id, _external=True),
            refresh_url=url_for("payments.payouts_page", _external=True),
        )
    except Conflict as error:
        refused(error)
        return redirect(url_for("payments.payouts_page"), code=303)
    return redirect(url_for("payments.onboarding_wait", factory_id=factory_id), code=303)


def _own_account(factory_id: int) -> ConnectedAccount:
    if factory_id not in {f.id for f in _own_factories()}:
        raise NotFound(f"factory {factory_id}")
    account = payouts.account_of(db.session(), factory_id)
    if account is None:
        raise NotFound(f"account of factory {factory_id}")
    return account


@pages.get("/payouts/<int:factory_id>/onboarding")
@login_required
def onboarding_wait(factory_id: int) -> ResponseReturnValue:
    """Waits (htmx) for the onboarding link the worker asks the gateway for, then goes."""
    account = _own_account(factory_id)
    if account.onboarding_url and request.headers.get("HX-Request"):
        response = Response("", status=204)
        response.headers["HX-Redirect"] = account.onboarding_url
        return response
    # Without htmx the page links there: a redirect out of the form's POST would be one
    # the policy's form-action refuses.
    failed = (
        db.session()
        .exec(
            select(GatewayOperation).where(
                GatewayOperation.subject_id == account.id,
                GatewayOperation.kind == "create_account",
                GatewayOperation.state == OperationState.FAILED,
            )
        )
        .first()
    )
    return render_template("payments/onboarding_wait.html", account=account, failed=failed)


@pages.get("/payouts/<int:factory_id>/onboarding/return")
@login_required
def onboarding_return(factory_id: int) -> ResponseReturnValue:
    """Back from the gateway: look again whether the account can receive payouts."""
    account = _own_account(factory_id)
    payouts.refresh_account(db.session(), account, f"return:{int(utcnow().timestamp())}")
    flash(_("Thank you. Payouts start as soon as the payment provider has checked it all."))
    return redirect(url_for("payments.payouts_page"), code=303)


@pages.route("/payments/simulated/onboarding/<account_id>", methods=["GET", "POST"])
@login_required
def simulated_onboarding(account_id: str) -> ResponseReturnValue:
    """The simulated gateway's onboarding page (no Stripe): one button."""
    session = db.session()
    gateway = current().gateway
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.account_id == account_id)
    ).first()
    if not isinstance(gateway, SimulatedGateway) or account is None:
        raise NotFound(f"account {account_id}")
    _own_account(account.factory_id)
    form = ActionForm()
    if form.validate_on_submit():
        gateway.complete_onboarding(account_id)
        payouts.apply_account(session, account, gateway.retrieve_account(account_id), utcnow())
        flash(_("Simulated onboarding complete: this factory receives payouts."))
        return redirect(url_for("payments.payouts_page"), code=303)
    return render_template("payments/simulated_onboarding.html", account=account, form=form)


# --- operators ---


@pages.get("/operator/money")
@roles_required(Role.OPERATOR)
def operator_money() -> ResponseReturnValue:
    session = db.session()
    failed = session.exec(
        select(GatewayOperation)
        .where(GatewayOperation.state == OperationState.FAILED)
        .order_by(col(GatewayOperation.id).desc())
        .limit(50)
    ).all()
    waiting = session.exec(
        select(Payout).where(Payout.state == PayoutState.WAITING).order_by(col(Payout.id))
    ).all()
    factory_names = {
        f.id: f.name
        for f in session.exec(
            select(Factory).where(col(Factory.id).in_(sorted({p.factory_id for p in waiting})))
        )
    }
    return render_template(
        "payments/operator_money.html",
        totals=money_by_currency(session),
        failed=failed,
        waiting=waiting,
        factory_names=factory_names,
        gateway=current().gateway.name,
    )


# --- Stripe's webhook ---


@pages.post("/payments/stripe/webhook")
@csrf.exempt
def stripe_webhook() -> ResponseReturnValue:
    """Checked against STRIPE_WEBHOOK_SECRET on the raw body; applied once."""
    try:
        outcome = webhooks.receive(
            db.session(),
            current().gateway,
            request.get_data(cache=False),
            request.headers.get("Stripe-Signature", ""),
            utcnow(),
        )
    except BadEvent as error:
        db.discard_changes()
        return error_response(
            400, "validation_failed", f"{error.field}: {error.message}",
            [FieldProblem(field=error.field, message=error.message)],
        )  # fmt: skip
    return jsonify({"received": True, "outcome": outcome})
