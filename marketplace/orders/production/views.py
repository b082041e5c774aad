"""Production on the web: milestones with their documents, delivery, closing, disputes
and their resolution, ratings, and documents to download."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound as NotFoundPage

from marketplace import db
from marketplace.accounts.access import login_required, require_principal, roles_required
from marketplace.accounts.models import Role
from marketplace.orders import access
from marketplace.orders.blueprints import pages
from marketplace.orders.models import DisputeState
from marketplace.orders.production import documents
from marketplace.orders.production.disputes import disputes_to_settle, open_dispute
from marketplace.orders.production.forms import (
    DisputeForm,
    MilestoneForm,
    RatingForm,
)
from marketplace.orders.production.ratings import rate
from marketplace.orders.production.service import add_milestone as report_milestone
from marketplace.orders.production.service import close as close_order
from marketplace.orders.production.service import confirm_delivery
from marketplace.orders.settings import max_document_bytes, upload_folder
from marketplace.security.limits import takes_files
from marketplace.web.forms import ActionForm, require_valid, step_then_redirect


def _order_page(order_id: int) -> str:
    return url_for("orders.detail", order_id=order_id)


def _uploads(files: list[FileStorage], field: str) -> list[documents.Upload]:
    return [
        documents.read_upload(f.stream, f.filename or "", f"{field}[{i}]", max_document_bytes())
        for i, f in enumerate(f for f in files if f and f.filename)
    ]


def _factory_id(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


@pages.post("/orders/<int:order_id>/deliver")
@login_required
def deliver(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    return step_then_redirect(
        lambda: confirm_delivery(session, principal, order_id),
        _("Delivery confirmed."),
        _order_page(order_id),
    )


@pages.post("/orders/<int:order_id>/close")
@login_required
def close(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    return step_then_redirect(
        lambda: close_order(session, principal, order_id),
        _("Order closed."),
        _order_page(order_id),
    )


@pages.post("/orders/<int:order_id>/dispute")
@login_required
@takes_files(documents.MAX_DOCUMENTS, max_document_bytes)
def dispute(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    form = DisputeForm()
    if not form.validate_on_submit():
        access.order_for(session, principal, order_id)
        flash(_("Say what went wrong."), "error")
        return redirect(_order_page(order_id), code=303)
    return step_then_redirect(
        lambda: open_dispute(
            session,
            principal,
            order_id,
            form.reason.data or "",
            upload_folder=upload_folder(),
            uploads=_uploads(form.evidence.data or [], "evidence"),
        ),
        _("Dispute opened; the operators and the factories have been told."),
        _order_page(order_id),
    )


@pages.post("/orders/<int:order_id>/milestones")
@login_required
@takes_files(documents.MAX_DOCUMENTS, max_document_bytes)
def add_milestone(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    access.order_for(session, principal, order_id)
    form = MilestoneForm()
    require_valid(form)
    return step_then_redirect(
        lambda: report_milestone(
            session,
            principal,
            order_id,
            form.kind.data or "",
            upload_folder=upload_folder(),
            factory_id=_factory_id(form.factory_id.data),
            note=form.note.data or "",
            carrier=form.carrier.data or "",
            tracking_number=form.tracking_number.data or "",
            uploads=_uploads(form.documents.data or [], "documents"),
        ),
        _("Milestone recorded."),
        _order_page(order_id),
    )


@pages.post("/orders/<int:order_id>/ratings")
@login_required
def add_rating(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    access.order_for(session, principal, order_id)
    form = RatingForm()
    require_valid(form)
    return step_then_redirect(
        lambda: rate(
            session,
            principal,
            order_id,
            int(form.score.data or 0),
            form.comment.data or "",
            factory_id=_factory_id(form.factory_id.data),
        ),
        _("Thank you for your rating."),
        _order_page(order_id),
    )


@pages.get("/documents/<int:document_id>")
@login_required
def document(document_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    doc = access.document_for(session, principal, document_id)
    path = documents.path_of(upload_folder(), doc)
    if not path.is_file():
        raise NotFoundPage()
    # A name of our own: the uploader's could mislead (report.pdf.exe) or carry what the
    # header should not; the page shows the uploaded name beside the link.
    response = send_file(
        path,
        mimetype=doc.content_type,
        as_attachment=True,
        download_name=documents.download_name(doc),
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@pages.get("/disputes")
@roles_required(Role.OPERATOR)
def disputes() -> ResponseReturnValue:
    """The operator's list of disputes: open ones first, oldest first."""
    state = request.args.get("state", DisputeState.OPEN)
    if state not in set(DisputeState):
        state = ""  # `all`
    return render_template(
        "orders/disputes.html",
        disputes=disputes_to_settle(db.session(), state or None),
        state=state,
        states=list(DisputeState),
    )
