"""Order pages: the list, posting an order, the order page, and the buyer's buttons on it
(post a draft, cancel). Each handler loads, checks access (`marketplace.orders.access`),
calls a service and renders."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.numbers import get_currency_name
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import Session

from factories.capability import minor_units, quoted_currencies
from factories.models import id_of
from factories.taxonomy import MATERIALS, PROCESSES
from marketplace import db
from marketplace.accounts.access import login_required, require_principal
from marketplace.accounts.service import Principal
from marketplace.orders import access, presenters
from marketplace.orders.blueprints import pages
from marketplace.orders.models import Order, OrderState
from marketplace.orders.posting.forms import MAX_FORM_LINES, OrderForm
from marketplace.orders.posting.service import (
    LineInput,
    OrderInput,
    create_order,
    orders_of,
)
from marketplace.orders.posting.service import (
    submit as submit_order,
)
from marketplace.orders.production.forms import (
    DisputeForm,
    MilestoneForm,
    RatingForm,
)
from marketplace.orders.proposals.service import cancel_order, expire_due
from marketplace.orders.runs.forms import MatchForm
from marketplace.orders.runs.texts import unplaced_lines
from marketplace.web.forms import ActionForm, require_valid, step_then_redirect
from marketplace.web.forms import submit as submit_form
from marketplace.web.labels import current_locale
from marketplace.web.messages import say

ORDER_STATES = [s.value for s in OrderState]


def currency_choices(quoted: list[str], locale: str) -> list[tuple[str, str]]:
    """EUR — Euro, for each currency factories quote in (EUR alone before any does)."""
    return [
        (code, f"{code} — {get_currency_name(code, locale=locale)}") for code in quoted or ["EUR"]
    ]


def order_page_url(order_id: int) -> str:
    return url_for("orders.detail", order_id=order_id)


@pages.get("/orders")
@login_required
def index() -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    state = request.args.get("state") or None
    if state is not None and state not in ORDER_STATES:
        state = None
    return render_template(
        "orders/index.html",
        orders=orders_of(session, principal, state),
        state=state,
        states=ORDER_STATES,
    )


def _line_inputs(form: OrderForm) -> list[LineInput]:
    return [
        LineInput(
            process_code=entry.process_code.data or "",
            material=entry.material.data or "",
            quantity=entry.quantity.data or 0,
            hours=entry.hours.data,
            hours_per_part=entry.hours_per_part.data,
            length_mm=entry.length_mm.data or 0,
            width_mm=entry.width_mm.data or 0,
            height_mm=entry.height_mm.data or 0,
            tolerance_class=entry.tolerance_class.data or "",
            certifications_required=list(entry.certifications_required.data or []),
            splittable=bool(entry.splittable.data),
        )
        for entry in (e.form for e in form.lines)
    ]


# The order form's fields that the service knows by another name.
FORM_NAMES = {"budget_minor": "budget"}


@pages.route("/orders/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    if not principal.is_buyer:
        abort(403)
    form = OrderForm()
    form.fill_choices(current_locale())
    form.currency.choices = currency_choices(quoted_currencies(session), current_locale())
    if request.method == "POST" and form.add_line.data:
        if len(form.lines.entries) < MAX_FORM_LINES:
            form.lines.append_entry()
            form.fill_choices(current_locale())
        return render_template("orders/new.html", form=form)
    if not form.is_submitted():
        return render_template("orders/new.html", form=form)
    # The form parses, then the service checks every field: all messages at once.
    order = submit_form(form, lambda: _create(session, principal, form), FORM_NAMES)
    if order is not None:
        flash(_("Order posted.") if form.post.data else _("Draft saved."))
        return redirect(order_page_url(id_of(order)), code=303)
    return render_template("orders/new.html", form=form), 400


def _create(session: Session, principal: Principal, form: OrderForm) -> Order:
    """The order from the form as parsed; a field that did not parse stands in with a
    harmless value, its own message already under it, so the others are still checked."""
    currency = (form.currency.data or "EUR").upper()
    budget_minor = None
    if form.budget.data is not None and not form.budget.errors:
        # In the currency's own minor units (none for JPY, two for EUR).
        try:
            budget_minor = minor_units(form.budget.data, currency)
        except ValueError as error:
            form.budget.errors = [*form.budget.errors, say(error)]
    data = OrderInput(
        title=form.title.data or "",
        due_date=form.due_date.data or date.max,
        delivery_country=(form.delivery_country.data or "").upper(),
        delivery_city=form.delivery_city.data or "",
        delivery_latitude=_or_zero(form.delivery_latitude.data),
        delivery_longitude=_or_zero(form.delivery_longitude.data),
        budget_minor=budget_minor,
        currency=currency,
        min_credit=float(form.min_credit.data or 0),
        lines=_line_inputs(form),
    )
    return create_order(session, principal, data, submit=bool(form.post.data))


def _or_zero(number: float | None) -> float:
    return 0.0 if number is None else number


def _page_context(page: presenters.OrderPage) -> dict[str, Any]:
    return {
        "order": page.order,
        "lines": page.lines,
        "proposals": page.proposals,
        "factories": page.factories,
        "milestones": page.milestones,
        "documents": page.documents,
        "disputes": page.disputes,
        "ratings": page.ratings,
        "run": page.run,
        "unplaced": unplaced_lines(page.run.outcome, [page.order]) if page.run else [],
        "runs": page.runs,
        "is_buyer": page.is_buyer,
        "see_all": page.sees_whole,
        "participants": page.participants,
        "my_participation": page.my_participation,
        "coverage": page.coverage,
        "accepted_total": page.accepted_total,
        "allowed": page.allowed,
        "rated": page.rated,
        "processes": PROCESSES,
        "materials": MATERIALS,
        "action_form": ActionForm(),
        "match_form": MatchForm(),
        "milestone_form": MilestoneForm(),
        "dispute_form": DisputeForm(),
        "rating_form": RatingForm(),
        "blank_rating_form": None,
    }


@pages.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int) -> ResponseReturnValue:
    return order_page(order_id)


def order_page(order_id: int, status: int = 200, **forms: FlaskForm) -> ResponseReturnValue:
    """The order page; a form sent from it that failed (`milestone_form=...`) shows again
    with what was typed and its messages."""
    session, principal = db.session(), require_principal()
    order = access.order_for(session, principal, order_id)
    # Between the periodic runs, a page that shows deadlines enforces them itself.
    if expire_due(session, order_id=order.id):
        session.refresh(order)
    page = presenters.order_page(session, principal, order)
    return render_template("orders/detail.html", **{**_page_context(page), **forms}), status


@pages.post("/orders/<int:order_id>/submit")
@login_required
def submit(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    return step_then_redirect(
        lambda: submit_order(session, principal, order_id),
        _("Order posted."),
        order_page_url(order_id),
    )


@pages.post("/orders/<int:order_id>/cancel")
@login_required
def cancel(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    return step_then_redirect(
        lambda: cancel_order(session, principal, order_id),
        _("Order cancelled."),
        order_page_url(order_id),
    )
