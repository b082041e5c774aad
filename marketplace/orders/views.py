"""Web pages of the orders area: load -> check access -> call the service -> render."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlmodel import select
from werkzeug.datastructures import FileStorage

from factories.capability import minor_units
from factories.models import CapacityBucket, Factory
from factories.taxonomy import MATERIALS, PROCESSES
from marketplace import db
from marketplace.accounts.access import (
    current_principal,
    login_required,
    require_principal,
    roles_required,
)
from marketplace.accounts.models import Role
from marketplace.accounts.service import Principal
from marketplace.orders import (
    current_settings,
    documents,
    events,
    lifecycle,
    lost,
    max_document_bytes,
    upload_folder,
)
from marketplace.orders import proposals as proposals_service
from marketplace.orders import webhooks as webhooks_service
from marketplace.orders.eligibility import parse_capacity_line
from marketplace.orders.forms import (
    MAX_FORM_LINES,
    ActionForm,
    DeclineForm,
    DisputeForm,
    MatchForm,
    MilestoneForm,
    OrderForm,
    RatingForm,
    ResolveForm,
    WebhookForm,
)
from marketplace.orders.models import (
    Dispute,
    MatchRun,
    MatchRunState,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalState,
    WebhookEndpoint,
)
from marketplace.orders.runs import latest_run, runs_of_order
from marketplace.orders.service import (
    Conflict,
    LineInput,
    NotFound,
    OrderError,
    OrderInput,
    lines_of,
    order_for,
    orders_of,
)
from marketplace.orders.transitions import TransitionError, allowed_targets
from marketplace.web.labels import money, state_label
from marketplace.web.messages import say

blueprint = Blueprint("orders", __name__)

ORDER_STATES = [s.value for s in OrderState]


@blueprint.app_context_processor
def orders_context() -> dict[str, Any]:
    def unread_notifications() -> int:
        principal = current_principal()
        if principal is None or principal.user_id is None:
            return 0
        return events.unread_count(db.session(), principal.organization_id)

    return {
        "unread_notifications": unread_notifications,
        "state_label": state_label,
        "money": money,
        "notification_text": notification_text,
    }


def notification_text(n: Any) -> str:
    p = n.params or {}
    title = p.get("title", "")
    texts: dict[str, Callable[[], str]] = {
        "order.proposed": lambda: _(
            "%(count)s proposal(s) made for your order “%(title)s”.",
            count=p.get("proposals", 0),
            title=title,
        ),
        "proposal.received": lambda: _(
            "New work proposed to you on “%(title)s”: please accept or decline.", title=title
        ),
        "proposal.accepted": lambda: _("A factory accepted its part of “%(title)s”.", title=title),
        "proposal.declined": lambda: _(
            "A factory declined its part of “%(title)s”; the work is being re-matched.",
            title=title,
        ),
        "proposal.expired": lambda: _(
            "A proposal on “%(title)s” expired unanswered; the work is being re-matched.",
            title=title,
        ),
        "proposal.superseded": lambda: _(
            "A proposal to you was withdrawn: re-matching moved the work elsewhere."
        ),
        "order.unplaced": lambda: _(
            "%(hours)s hours of “%(title)s” could not be placed; start matching again or cancel.",
            hours=p.get("hours", "?"),
            title=title,
        ),
        "order.confirmed": lambda: _(
            "“%(title)s” is confirmed: all work is accepted.", title=title
        ),
        "order.cancelled": lambda: _("The buyer cancelled “%(title)s”.", title=title),
        "milestone.added": lambda: _(
            "Milestone on “%(title)s”: %(kind)s.",
            title=title,
            kind=state_label(p.get("milestone", "")),
        ),
        "order.delivered": lambda: _("The buyer confirmed delivery of “%(title)s”.", title=title),
        "order.closed": lambda: _("“%(title)s” is closed: you can rate the buyer.", title=title),
        "dispute.opened": lambda: _("A dispute was opened on “%(title)s”.", title=title),
        "dispute.resolved": lambda: _("The dispute on “%(title)s” was resolved.", title=title),
        "rating.received": lambda: _(
            "You were rated %(score)s/5 for “%(title)s”.", score=p.get("score", "?"), title=title
        ),
    }
    text = texts.get(n.kind)
    return text() if text else n.kind


def _locale() -> str:
    return str(get_locale() or "en")


def _session_and_principal() -> tuple[Any, Principal]:
    return db.session(), require_principal()


def _not_found_on_lookup(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except NotFound:
        abort(404)


def _flash_transition(error: TransitionError) -> None:
    allowed = ", ".join(state_label(s) for s in error.allowed) or _("none")
    flash(
        _(
            "This order is %(state)s and cannot become %(target)s. "
            "Possible next states: %(allowed)s.",
            state=state_label(error.state),
            target=state_label(error.target),
            allowed=allowed,
        ),
        "error",
    )


def _flash_order_error(error: OrderError) -> None:
    for field, message in error.problems:
        flash(f"{field}: {say(message)}", "error")


def _action(order_id: int, step: Callable[[], Any], done: str) -> Response:
    """Run a state-changing step; problems become flash messages on the order page."""
    try:
        step()
    except NotFound:
        abort(404)
    except TransitionError as error:
        db.session().rollback()
        _flash_transition(error)
    except Conflict as error:
        db.session().rollback()
        flash(say(error), "error")
    except OrderError as error:
        db.session().rollback()
        _flash_order_error(error)
    else:
        flash(done)
    return redirect(url_for("orders.detail", order_id=order_id), code=303)


def _by_id(session: Any, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(model).where(model.id.in_(sorted(ids))))}


def _valid_form(form: Any) -> bool:
    if not form.validate_on_submit():
        abort(400)
    return True


# --- orders ---


@blueprint.get("/orders")
@login_required
def index():  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
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


def _attach_errors(form: OrderForm, error: OrderError) -> None:
    for field, message in error.problems:
        target = None
        if field.startswith("lines[") and "]." in field:
            index = int(field[6 : field.index("]")])
            name = field[field.index("].") + 2 :].split("[")[0]
            if index < len(form.lines.entries):
                target = getattr(form.lines.entries[index].form, name, None)
        else:
            target = getattr(form, {"budget_minor": "budget"}.get(field, field), None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, say(message)]
        else:
            flash(f"{field}: {say(message)}", "error")


@blueprint.route("/orders/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    if not principal.is_buyer:
        abort(403)
    form = OrderForm()
    if request.method == "POST" and form.add_line.data:
        if len(form.lines.entries) < MAX_FORM_LINES:
            form.lines.append_entry()
        form.fill_choices(_locale())
        return render_template("orders/new.html", form=form)
    form.fill_choices(_locale())
    status = 200
    currency = (form.currency.data or "EUR").upper()
    budget_minor = None
    valid = form.validate_on_submit()
    if valid and form.budget.data is not None:
        # In the currency's own minor units (none for JPY, two for EUR).
        try:
            budget_minor = minor_units(form.budget.data, currency)
        except ValueError as error:
            form.budget.errors = [*form.budget.errors, say(error)]
            valid = False
    if valid:
        data = OrderInput(
            title=form.title.data or "",
            due_date=form.due_date.data,
            delivery_country=(form.delivery_country.data or "").upper(),
            delivery_city=form.delivery_city.data or "",
            delivery_latitude=form.delivery_latitude.data,
            delivery_longitude=form.delivery_longitude.data,
            budget_minor=budget_minor,
            currency=currency,
            min_credit=float(form.min_credit.data or 0),
            lines=_line_inputs(form),
        )
        from marketplace.orders.service import create_order

        try:
            order = create_order(session, principal, data, submit=bool(form.post.data))
        except OrderError as error:
            session.rollback()
            _attach_errors(form, error)
            status = 400
        else:
            flash(_("Order posted.") if form.post.data else _("Draft saved."))
            return redirect(url_for("orders.detail", order_id=order.id), code=303)
    elif form.is_submitted():
        status = 400
    return render_template("orders/new.html", form=form), status


def _detail_context(session: Any, principal: Principal, order: Any) -> dict[str, Any]:
    is_buyer = principal.acts_for(order.buyer_organization_id)
    see_all = is_buyer or principal.is_operator
    proposals = proposals_service.proposals_of_order(session, principal, order)
    factories = _by_id(session, Factory, {p.factory_id for p in proposals})
    my_factory_ids = [f.id for f in factories.values() if principal.acts_for(f.organization_id)]
    milestone_factories = None if see_all else my_factory_ids
    milestones = lifecycle.milestones_of(session, order.id, milestone_factories)
    participants = lifecycle.participants(session, order.id)
    my_participation = [f for f in participants if principal.acts_for(f.organization_id)]
    # The same rule as lifecycle.document_for, which serves the files.
    docs = [
        d
        for d in lifecycle.documents_of(session, order.id)
        if see_all
        or principal.acts_for(d.organization_id)
        or (d.dispute_id is not None and my_participation)
    ]
    ratings = [
        r
        for r in lifecycle.ratings_of(session, order.id)
        if see_all or principal.organization_id in (r.from_organization_id, r.to_organization_id)
    ]
    run = latest_run(session, order.id) if see_all else None
    coverage = proposals_service.coverage(session, [order.id])
    accepted_total = sum(p.price_minor for p in proposals if p.state == ProposalState.ACCEPTED)
    rated = {(r.from_organization_id, r.to_organization_id) for r in ratings}
    return {
        "order": order,
        "lines": lines_of(session, order.id),
        "proposals": proposals,
        "factories": factories,
        "milestones": milestones,
        "documents": docs,
        "disputes": lifecycle.disputes_of(session, order.id),
        "ratings": ratings,
        "run": run,
        "runs": runs_of_order(session, order.id) if see_all else [],
        "is_buyer": is_buyer,
        "see_all": see_all,
        "participants": participants,
        "my_participation": my_participation,
        "coverage": coverage,
        "accepted_total": accepted_total,
        "allowed": allowed_targets(order),
        "rated": rated,
        "processes": PROCESSES,
        "materials": MATERIALS,
        "action_form": ActionForm(),
        "match_form": MatchForm(),
        "milestone_form": MilestoneForm(),
        "dispute_form": DisputeForm(),
        "rating_form": RatingForm(),
        "resolve_form": ResolveForm(),
    }


@blueprint.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    order = _not_found_on_lookup(lambda: order_for(session, principal, order_id))
    # Between the periodic runs, a page that shows deadlines enforces them itself.
    if proposals_service.expire_due(session, order_id=order.id):
        session.refresh(order)
    return render_template("orders/detail.html", **_detail_context(session, principal, order))


@blueprint.post("/orders/<int:order_id>/submit")
@login_required
def submit(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _valid_form(ActionForm())
    return _action(
        order_id, lambda: lifecycle.submit(session, principal, order_id), _("Order posted.")
    )


@blueprint.post("/orders/<int:order_id>/match")
@login_required
def match(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    form = MatchForm()
    _valid_form(form)
    limit = float(form.time_limit_s.data or current_settings()["MATCH_TIME_LIMIT_S"])
    return _action(
        order_id,
        lambda: lifecycle.request_matching(session, principal, order_id, limit),
        _("Matching started."),
    )


@blueprint.post("/orders/<int:order_id>/cancel")
@login_required
def cancel(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _valid_form(ActionForm())
    return _action(
        order_id, lambda: lifecycle.cancel(session, principal, order_id), _("Order cancelled.")
    )


@blueprint.post("/orders/<int:order_id>/deliver")
@login_required
def deliver(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _valid_form(ActionForm())
    return _action(
        order_id,
        lambda: lifecycle.confirm_delivery(session, principal, order_id),
        _("Delivery confirmed."),
    )


@blueprint.post("/orders/<int:order_id>/close")
@login_required
def close(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _valid_form(ActionForm())
    return _action(
        order_id, lambda: lifecycle.close(session, principal, order_id), _("Order closed.")
    )


def _uploads(files: list[FileStorage], field: str) -> list[documents.Upload]:
    return [
        documents.read_upload(f.stream, f.filename or "", f"{field}[{i}]", max_document_bytes())
        for i, f in enumerate(f for f in files if f and f.filename)
    ]


@blueprint.post("/orders/<int:order_id>/dispute")
@login_required
def dispute(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    form = DisputeForm()
    if not form.validate_on_submit():
        _not_found_on_lookup(lambda: order_for(session, principal, order_id))
        flash(_("Say what went wrong."), "error")
        return redirect(url_for("orders.detail", order_id=order_id), code=303)
    return _action(
        order_id,
        lambda: lifecycle.open_dispute(
            session,
            principal,
            order_id,
            form.reason.data or "",
            upload_folder=upload_folder(),
            uploads=_uploads(form.evidence.data or [], "evidence"),
        ),
        _("Dispute opened; the operators and the factories have been told."),
    )


@blueprint.post("/orders/<int:order_id>/milestones")
@login_required
def add_milestone(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _not_found_on_lookup(lambda: order_for(session, principal, order_id))
    form = MilestoneForm()
    _valid_form(form)
    factory_id = int(form.factory_id.data) if (form.factory_id.data or "").isdigit() else None
    return _action(
        order_id,
        lambda: lifecycle.add_milestone(
            session,
            principal,
            order_id,
            form.kind.data or "",
            upload_folder=upload_folder(),
            factory_id=factory_id,
            note=form.note.data or "",
            carrier=form.carrier.data or "",
            tracking_number=form.tracking_number.data or "",
            uploads=_uploads(form.documents.data or [], "documents"),
        ),
        _("Milestone recorded."),
    )


@blueprint.post("/orders/<int:order_id>/ratings")
@login_required
def add_rating(order_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _not_found_on_lookup(lambda: order_for(session, principal, order_id))
    form = RatingForm()
    _valid_form(form)
    factory_id = int(form.factory_id.data) if (form.factory_id.data or "").isdigit() else None
    return _action(
        order_id,
        lambda: lifecycle.rate(
            session,
            principal,
            order_id,
            int(form.score.data or 0),
            form.comment.data or "",
            factory_id=factory_id,
        ),
        _("Thank you for your rating."),
    )


@blueprint.post("/disputes/<int:dispute_id>/resolve")
@roles_required(Role.OPERATOR)
def resolve(dispute_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    form = ResolveForm()
    _valid_form(form)
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        abort(404)
    return _action(
        dispute.order_id,
        lambda: lifecycle.resolve_dispute(
            session, principal, dispute_id, form.resolution.data or ""
        ),
        _("Dispute resolved; the order is closed."),
    )


@blueprint.get("/documents/<int:document_id>")
@login_required
def document(document_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    doc = _not_found_on_lookup(lambda: lifecycle.document_for(session, principal, document_id))
    path = documents.path_of(upload_folder(), doc)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=doc.content_type, as_attachment=True, download_name=doc.filename
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- matching runs ---


def run_for(session: Any, principal: Principal, run_id: int) -> MatchRun:
    """Runs belong to the buyer whose orders they place; batch runs to operators."""
    run = session.get(MatchRun, run_id)
    if run is None:
        abort(404)
    if principal.is_operator:
        return run
    if (
        principal.is_buyer
        and run.organization_id is not None
        and principal.acts_for(run.organization_id)
    ):
        return run
    abort(404)


@blueprint.get("/orders/<int:order_id>/progress")
@login_required
def progress(order_id: int):  # type: ignore[no-untyped-def]
    """The live progress panel (htmx polls it every second while a run is in flight)."""
    session, principal = _session_and_principal()
    order = _not_found_on_lookup(lambda: order_for(session, principal, order_id))
    if not (principal.is_operator or principal.acts_for(order.buyer_organization_id)):
        abort(404)
    run = latest_run(session, order.id)
    response = Response(render_template("orders/_progress.html", order=order, run=run))
    finished = run is not None and run.state in (MatchRunState.SUCCEEDED, MatchRunState.FAILED)
    if finished and request.args.get("was") in (MatchRunState.QUEUED, MatchRunState.RUNNING):
        # The run just finished: reload the page so that the proposals appear.
        response.headers["HX-Refresh"] = "true"
    return response


@blueprint.get("/runs/<int:run_id>")
@login_required
def run_detail(run_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    run = run_for(session, principal, run_id)
    return render_template("orders/run.html", run=run)


@blueprint.get("/runs/<int:run_id>/<any(problem, plan, previous_plan):part>.json")
@login_required
def run_download(run_id: int, part: str):  # type: ignore[no-untyped-def]
    """The run's problem or plan as a file, to replay with `factoryweb match`."""
    session, principal = _session_and_principal()
    run = run_for(session, principal, run_id)
    content = getattr(run, part)
    if not content:
        abort(404)
    response = Response(json.dumps(content, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="run-{run.id}-{part}.json"'
    return response


# --- proposals ---


@blueprint.get("/proposals")
@login_required
def proposal_list():  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    if not principal.is_factory:
        abort(403)
    state = request.args.get("state") or None
    if state is not None and state not in {s.value for s in ProposalState}:
        state = None
    items = proposals_service.proposals_of_factories(session, principal.organization_id, state)
    lines = _by_id(session, OrderLine, {p.order_line_id for p in items})
    factories = _by_id(session, Factory, {p.factory_id for p in items})
    return render_template(
        "orders/proposals.html",
        proposals=items,
        lines=lines,
        factories=factories,
        state=state,
        states=[s.value for s in ProposalState],
        action_form=ActionForm(),
    )


# --- lost work ---

LOST_PER_PAGE = 25


@blueprint.get("/lost-work")
@login_required
def lost_work_list():  # type: ignore[no-untyped-def]
    """The order lines the factory could have made and did not get, with the reason."""
    session, principal = _session_and_principal()
    raw = request.args.get("page", "1")
    if not re.fullmatch(r"[1-9][0-9]{0,8}", raw):
        abort(400, description=_("page: must be a whole number from 1"))
    result = _not_found_on_lookup(
        lambda: lost.lost_work_of(session, principal, int(raw), LOST_PER_PAGE)
    )
    return render_template(
        "orders/lost_work.html",
        result=result,
        lost_reason=_lost_reason,
        page_url=lambda n: url_for("orders.lost_work_list", page=n),
    )


@blueprint.get("/lost-work/<int:lost_work_id>")
@login_required
def lost_work_detail(lost_work_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    item = _not_found_on_lookup(lambda: lost.lost_work_for(session, principal, lost_work_id))
    return render_template(
        "orders/lost_work_detail.html",
        item=item,
        lost_reason=_lost_reason,
        processes=PROCESSES,
        materials=MATERIALS,
    )


def _lost_reason(reason: dict[str, Any], currency: str) -> str:
    return say(lost.reason_message(reason, currency))


@blueprint.get("/proposals/<int:proposal_id>")
@login_required
def proposal_detail(proposal_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    proposal = _not_found_on_lookup(
        lambda: proposals_service.proposal_for(session, principal, proposal_id)
    )
    if proposals_service.expire_due(session, order_id=proposal.order_id):
        session.refresh(proposal)
    order = session.get(Order, proposal.order_id)
    line = session.get(OrderLine, proposal.order_line_id)
    slots = proposals_service.slots_of(session, [proposal.id]).get(proposal.id, [])
    buckets = _by_id(session, CapacityBucket, {s.bucket_id for s in slots})
    mine = principal.is_factory
    explanation = proposals_service.explanation_for(principal, proposal)
    # Names of the factories the engine mentions: for a factory, only its own.
    engine = explanation.get("engine") or {}
    lines_named = [c["factory"] for c in engine.get("chosen", []) + engine.get("not_chosen", [])]
    named = _by_id(session, Factory, {parse_capacity_line(f)[0] for f in lines_named})
    factory_names = {
        f: named[parse_capacity_line(f)[0]].name
        for f in lines_named
        if parse_capacity_line(f)[0] in named
    }
    return render_template(
        "orders/proposal.html",
        factory_names=factory_names,
        proposal=proposal,
        explanation=explanation,
        order=order,
        line=line,
        slots=slots,
        buckets=buckets,
        factory=session.get(Factory, proposal.factory_id),
        mine=mine,
        action_form=ActionForm(),
        decline_form=DeclineForm(),
        processes=PROCESSES,
        materials=MATERIALS,
    )


def _proposal_action(proposal_id: int, step: Callable[[], Proposal], done: str) -> Response:
    try:
        step()
    except NotFound:
        abort(404)
    except TransitionError as error:
        db.session().rollback()
        _flash_transition(error)
    except Conflict as error:
        db.session().rollback()
        flash(say(error), "error")
    except OrderError as error:
        db.session().rollback()
        _flash_order_error(error)
    else:
        flash(done)
    return redirect(url_for("orders.proposal_detail", proposal_id=proposal_id), code=303)


@blueprint.post("/proposals/<int:proposal_id>/accept")
@login_required
def accept(proposal_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _valid_form(ActionForm())
    return _proposal_action(
        proposal_id,
        lambda: proposals_service.accept(session, principal, proposal_id),
        _("Proposal accepted: the hours are booked for you."),
    )


@blueprint.post("/proposals/<int:proposal_id>/decline")
@login_required
def decline(proposal_id: int):  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    form = DeclineForm()
    _valid_form(form)
    return _proposal_action(
        proposal_id,
        lambda: proposals_service.decline(session, principal, proposal_id, form.note.data or ""),
        _("Proposal declined; the hours are free again."),
    )


# --- notifications and webhooks ---


@blueprint.get("/notifications")
@login_required
def notifications():  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    return render_template(
        "orders/notifications.html",
        notifications=events.notifications_of(session, principal.organization_id),
        action_form=ActionForm(),
    )


@blueprint.post("/notifications/read")
@login_required
def notifications_read():  # type: ignore[no-untyped-def]
    session, principal = _session_and_principal()
    _valid_form(ActionForm())
    events.mark_read(session, principal.organization_id)
    return redirect(url_for("orders.notifications"), code=303)


def _user_principal() -> Principal:
    principal = require_principal()
    if principal.user_id is None:
        abort(403)
    return principal


@blueprint.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks():  # type: ignore[no-untyped-def]
    session, principal = db.session(), _user_principal()
    form = WebhookForm()
    status = 200
    if form.validate_on_submit():
        try:
            endpoint = webhooks_service.create_endpoint(
                session,
                principal.organization_id,
                form.url.data or "",
                list(form.events.data or []),
                allow_private=current_settings()["WEBHOOK_ALLOW_PRIVATE"],
            )
        except OrderError as error:
            session.rollback()
            target = form.events if error.field == "events" else form.url
            target.errors = [*target.errors, say(error.message)]
            status = 400
        else:
            flash(_("Endpoint added. Its signing secret is shown on its page."))
            return redirect(url_for("orders.webhook_detail", endpoint_id=endpoint.id), code=303)
    elif form.is_submitted():
        status = 400
    return render_template(
        "orders/webhooks.html",
        form=form,
        endpoints=webhooks_service.endpoints_of(session, principal.organization_id),
    ), status


def _endpoint_for(session: Any, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not principal.acts_for(endpoint.organization_id):
        abort(404)
    return endpoint


@blueprint.get("/webhooks/<int:endpoint_id>")
@login_required
def webhook_detail(endpoint_id: int):  # type: ignore[no-untyped-def]
    session, principal = db.session(), _user_principal()
    endpoint = _endpoint_for(session, principal, endpoint_id)
    deliveries = webhooks_service.deliveries_of(session, endpoint.id)  # type: ignore[arg-type]
    return render_template(
        "orders/webhook.html",
        endpoint=endpoint,
        deliveries=deliveries,
        history=webhooks_service.attempts_of(session, [d.id for d in deliveries]),  # type: ignore[misc]
        action_form=ActionForm(),
    )


@blueprint.post("/webhooks/<int:endpoint_id>/delete")
@login_required
def webhook_delete(endpoint_id: int):  # type: ignore[no-untyped-def]
    session, principal = db.session(), _user_principal()
    _valid_form(ActionForm())
    endpoint = _endpoint_for(session, principal, endpoint_id)
    session.delete(endpoint)
    flash(_("Endpoint removed."))
    return redirect(url_for("orders.webhooks"), code=303)
