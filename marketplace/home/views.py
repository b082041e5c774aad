from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from factories.capacity.calendar import free_hours_by_process
from factories.capacity.weeks import monday_of, week_label
from factories.taxonomy import PROCESSES
from marketplace import db
from marketplace.accounts.access import (
    current_principal,
    current_user,
    login_required,
    require_principal,
)
from marketplace.home.attention import buyer_attention, factory_attention, operator_attention
from marketplace.home.figures import marketplace_numbers
from marketplace.payments.settings import current as current_payments
from marketplace.web import LOCALE_COOKIE, LOCALES, labels
from marketplace.web.navigation import same_site_path

blueprint = Blueprint("web", __name__)

ONE_YEAR_S = 365 * 24 * 3600


@blueprint.app_context_processor
def layout_context() -> dict[str, object]:
    """What the layout of every page shows: languages, who is signed in, labels."""
    current = str(get_locale())
    return {
        "locales": LOCALES,
        "current_locale": current,
        "principal": current_principal(),
        "user": current_user(),
        # Taxonomy codes in the reader's language, on any page.
        "process_label": lambda code: labels.process_label(code, current),
        "material_label": lambda code: labels.material_label(code, current),
        "certification_label": lambda code: labels.certification_label(code, current),
        "country_label": lambda code: labels.country_label(code, current),
        "solver_status_label": labels.solver_status_label,
    }


def _landing_figures() -> dict[str, object]:
    this_week = monday_of(datetime.now(UTC).date())
    session = db.session()
    free_by_process = free_hours_by_process(session, this_week)
    return {
        "numbers": marketplace_numbers(session),
        "week": week_label(this_week),
        "free_by_process": free_by_process,
        "total_free": sum(free_by_process.values()),
    }


@blueprint.get("/")
def index() -> ResponseReturnValue:
    return render_template("index.html", processes=PROCESSES, **_landing_figures())


@blueprint.get("/fragments/marketplace-numbers")
def marketplace_numbers_fragment() -> ResponseReturnValue:
    """The figures alone, for the landing page to refresh without a reload."""
    return render_template("_numbers.html", **_landing_figures())


@blueprint.get("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    if code not in LOCALES:
        abort(404)
    response = redirect(same_site_path(request.args.get("next")))
    response.set_cookie(LOCALE_COOKIE, code, max_age=ONE_YEAR_S, samesite="Lax", httponly=True)
    return response


@blueprint.get("/home")
@login_required
def home() -> ResponseReturnValue:
    """Where a person lands after signing in: what needs them, for their role."""
    session, principal = db.session(), require_principal()
    now = datetime.now(UTC)
    context: dict[str, object] = {"hours": labels.hours, "week": labels.week}
    if principal.is_buyer:
        context["buyer"] = buyer_attention(session, principal, current_payments().settings)
    if principal.is_factory:
        context["factory"] = factory_attention(session, principal.organization_id)
    if principal.is_operator:
        context["operator"] = operator_attention(session, now.date())
    return render_template("home/mine.html", **context)
