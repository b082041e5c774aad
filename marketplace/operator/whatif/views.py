"""The what-if page: describe an outage, see the re-plan, apply it (operators only)."""

from __future__ import annotations

from datetime import date

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.errors import InputError
from marketplace import db
from marketplace.operator.access import operators_may_write, operators_only
from marketplace.operator.blueprints import pages
from marketplace.operator.whatif.apply import apply_outage
from marketplace.operator.whatif.forms import ApplyForm, WhatIfForm
from marketplace.operator.whatif.service import DEFAULT_TIME_LIMIT_S, what_if
from marketplace.operator.whatif.target import Outage, outage_of, regions
from marketplace.supply.clock import today_and_now
from marketplace.web.forms import field_errors, refused, require_valid


def _time_limit() -> float:
    return float(current_app.config.get("WHATIF_TIME_LIMIT_S", DEFAULT_TIME_LIMIT_S))


def _outage(form: WhatIfForm | ApplyForm, today: date) -> Outage:
    return outage_of(
        db.session(),
        today,
        factory=form.factory.data,
        region=form.region.data,
        from_week=form.from_week.data,
        to_week=form.to_week.data,
    )


@pages.get("/operator/whatif")
@operators_only
def whatif_page() -> ResponseReturnValue:
    session = db.session()
    form = WhatIfForm(request.args)
    form.region.choices = [("", "—"), *((r, r) for r in regions(session))]
    result = None
    status = 200
    asked = any(request.args.get(k) for k in ("factory", "region"))
    if asked and form.validate():
        today, _now = today_and_now()
        try:
            outage = _outage(form, today)
            result = what_if(session, outage, today, time_limit_s=_time_limit())
        except InputError as error:
            field_errors(form, error)
            status = 400
        db.discard_changes()  # a what-if keeps nothing
    elif asked:
        status = 400
    apply_form = ApplyForm(formdata=None, data=request.args.to_dict()) if result else None
    return render_template(
        "operator/whatif.html", form=form, result=result, apply_form=apply_form
    ), status


@pages.post("/operator/whatif/apply")
@operators_may_write
def whatif_apply() -> ResponseReturnValue:
    session = db.session()
    form = ApplyForm()
    require_valid(form)
    today, now = today_and_now()
    back = url_for(
        "operator.whatif_page",
        **{k: v for k, v in form.data.items() if k != "csrf_token" and v},
    )
    try:
        outage = _outage(form, today)
        applied = apply_outage(session, outage, today, now)
    except InputError as error:
        refused(error)
        return redirect(back, code=303)
    flash(
        _(
            "Capacity closed for %(target)s (%(buckets)s week buckets); %(orders)s orders are "
            "being re-matched, %(paid)s of them paid (their payment stays held); %(handle)s "
            "orders need your attention.",
            target=outage.label,
            buckets=applied.closed_weeks,
            orders=len(applied.rematched_orders),
            paid=len(applied.paid_orders),
            handle=len(applied.to_handle),
        )
    )
    if applied.to_handle:
        flash(
            _(
                "Orders in production and orders with a payment or a run in flight keep their "
                "work on the closed capacity: %(orders)s",
                orders=", ".join(f"#{o}" for o in applied.to_handle),
            ),
            "error",
        )
    return redirect(url_for("operator.whatif_page"), code=303)
