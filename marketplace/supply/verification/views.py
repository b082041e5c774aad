"""The cluster operators' pages: the factories to review, verify and suspend."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.models import FactoryStatus
from factories.onboarding import factories_for_review, suspend_factory, verify_factory
from factories.paging import page_number
from marketplace import db
from marketplace.accounts.access import roles_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.supply import texts
from marketplace.supply.access import load_factory
from marketplace.supply.blueprints import pages
from marketplace.supply.clock import today_and_now
from marketplace.supply.presenters import capacity_freshness
from marketplace.supply.verification.forms import SuspendForm
from marketplace.web.forms import ActionForm, perform, require_valid
from marketplace.web.navigation import same_site_path


@pages.get("/operator/factories")
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def operator_factories() -> ResponseReturnValue:
    status = request.args.get("status", FactoryStatus.PENDING)
    if status not in set(FactoryStatus):
        status = ""  # `all`, or anything else: every status
    text = request.args.get("q", "")[:200]
    today, now = today_and_now()
    page = factories_for_review(
        db.session(),
        today=today,
        status=status or None,
        text=text,
        page=page_number(request.args.get("page")),
    )
    return render_template(
        "supply/operator_factories.html",
        page=page,
        status=status,
        text=" ".join(text.split()),
        statuses=list(FactoryStatus),
        status_labels=texts.STATUS_LABELS,
        stale={e.factory.id: capacity_freshness(e.factory, now).stale for e in page.items},
        confirm_form=ActionForm(formdata=None),
        suspend_form=SuspendForm(formdata=None),
        page_url=lambda n: url_for(
            "supply.operator_factories",
            **{**request.args.to_dict(), "status": status or "all", "page": n},
        ),
    )


@pages.post("/operator/factories/<int:factory_id>/verify")
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def verify(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id)
    require_valid(ActionForm())
    verify_factory(db.session(), factory, today_and_now()[1])
    flash(_("%(name)s is verified and visible to buyers.", name=factory.name))
    # Back to the list the operator was working through (the pending ones, usually).
    return redirect(back_to_list(FactoryStatus.PENDING))


@pages.post("/operator/factories/<int:factory_id>/suspend")
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def suspend(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id)
    back = redirect(back_to_list(factory.status))
    form = SuspendForm()
    if not form.validate():
        flash(_("Say why the factory is suspended."), "error")
        return back, 303
    suspended = perform(
        lambda: suspend_factory(db.session(), factory, form.reason.data),
        _("%(name)s is suspended.", name=factory.name),
    )
    if not suspended:
        return back, 303
    return redirect(back_to_list(FactoryStatus.PENDING))


def back_to_list(status: str) -> str:
    """The page the action was taken from (a list, or the factory's page), else the list
    of factories in `status`."""
    default = url_for("supply.operator_factories", status=status)
    return same_site_path(request.form.get("back"), default=default)
