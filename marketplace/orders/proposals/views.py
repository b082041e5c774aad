"""Proposals on the web: a factory's list, a proposal's page with its answer buttons, and
the work a factory lost with the reason."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _

from factories.models import Factory
from factories.paging import page_number
from factories.taxonomy import MATERIALS, PROCESSES
from marketplace import db
from marketplace.accounts.access import login_required, require_principal
from marketplace.orders import access, presenters
from marketplace.orders.blueprints import pages
from marketplace.orders.models import OrderLine, ProposalState
from marketplace.orders.proposals import lost, words
from marketplace.orders.proposals.forms import DeclineForm
from marketplace.orders.proposals.service import accept as accept_proposal
from marketplace.orders.proposals.service import decline as decline_proposal
from marketplace.orders.proposals.service import expire_due
from marketplace.web import labels
from marketplace.web.forms import ActionForm, require_valid, step_then_redirect
from marketplace.web.messages import say

LOST_PER_PAGE = 25
PROPOSAL_STATES = [s.value for s in ProposalState]


def proposal_page_url(proposal_id: int) -> str:
    return url_for("orders.proposal_detail", proposal_id=proposal_id)


@pages.get("/proposals")
@login_required
def proposal_list() -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    if not principal.is_factory:
        abort(403)
    state = request.args.get("state") or None
    if state is not None and state not in PROPOSAL_STATES:
        state = None
    items = access.proposals_of_factories(session, principal, state)
    return render_template(
        "orders/proposals.html",
        proposals=items,
        lines=presenters.by_id(session, OrderLine, {p.order_line_id for p in items}),
        factories=presenters.by_id(session, Factory, {p.factory_id for p in items}),
        state=state,
        states=PROPOSAL_STATES,
        action_form=ActionForm(),
    )


@pages.get("/proposals/<int:proposal_id>")
@login_required
def proposal_detail(proposal_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    proposal = access.proposal_for(session, principal, proposal_id)
    if expire_due(session, order_id=proposal.order_id):
        session.refresh(proposal)
    view = presenters.proposal_view(session, principal, proposal)
    engine = view.explanation.get("engine") or {}
    return render_template(
        "orders/proposal.html",
        factory_names=view.factory_names,
        proposal=view.proposal,
        explanation=view.explanation,
        order=view.order,
        line=view.line,
        slots=view.slots,
        buckets=view.buckets,
        factory=view.factory,
        mine=view.mine,
        order_visible=view.order_visible,
        action_form=ActionForm(),
        decline_form=DeclineForm(),
        processes=PROCESSES,
        materials=MATERIALS,
        engine_rows=[]
        if view.mine
        else words.engine_rows(
            engine, view.factory_names, view.proposal.currency, view.order.min_credit
        ),
        score=words.score,
        shipping=words.shipping,
        week_label=labels.week,
        week_labels=labels.weeks,
        hours=labels.hours,
        format_decimal=format_decimal,
    )


@pages.post("/proposals/<int:proposal_id>/accept")
@login_required
def accept(proposal_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    return step_then_redirect(
        lambda: accept_proposal(session, principal, proposal_id),
        _("Proposal accepted: the hours are booked for you."),
        proposal_page_url(proposal_id),
    )


@pages.post("/proposals/<int:proposal_id>/decline")
@login_required
def decline(proposal_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    form = DeclineForm()
    require_valid(form)
    return step_then_redirect(
        lambda: decline_proposal(session, principal, proposal_id, form.note.data or ""),
        _("Proposal declined; the hours are free again."),
        proposal_page_url(proposal_id),
    )


# --- lost work ---


def _lost_reason(reason: dict[str, Any], currency: str) -> str:
    return say(lost.reason_message(reason, currency))


@pages.get("/lost-work")
@login_required
def lost_work_list() -> ResponseReturnValue:
    """The order lines the factory could have made and did not get, with the reason."""
    session, principal = db.session(), require_principal()
    page = page_number(request.args.get("page"))
    result = lost.lost_work_of(session, principal, page, LOST_PER_PAGE)
    return render_template(
        "orders/lost_work.html",
        result=result,
        lost_reason=_lost_reason,
        page_url=lambda n: url_for("orders.lost_work_list", page=n),
    )


@pages.get("/lost-work/<int:lost_work_id>")
@login_required
def lost_work_detail(lost_work_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    return render_template(
        "orders/lost_work_detail.html",
        item=lost.lost_work_for(session, principal, lost_work_id),
        lost_reason=_lost_reason,
        processes=PROCESSES,
        materials=MATERIALS,
    )
