"""Production on the web: milestones with their documents, delivery, closing, disputes
and their resolution, ratings, and documents to download."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound as NotFoundPage
from wtforms import Field

from factories.errors import Conflict, InputError
from marketplace import db
from marketplace.accounts.access import login_required, require_principal, roles_required
from marketplace.accounts.models import Role
from marketplace.orders import access
from marketplace.orders.blueprints import pages
from marketplace.orders.models import DisputeState
from marketplace.orders.posting.views import order_page
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
from marketplace.web.forms import (
    ActionForm,
    field_errors,
    refused,
    require_valid,
    step_then_redirect,
    submit,
)

T = TypeVar("T")


def _order_page(order_id: int) -> str:
    return url_for("orders.detail", order_id=order_id)


def _uploads(form: FlaskForm, files: Field) -> list[documents.Upload]:
    """The files sent in `files`; one that cannot be read (too big, empty) gets its
    message under the field, and the others are still checked by the service."""
    uploads = []
    for i, f in enumerate(f for f in (files.data or []) if f and f.filename):
        try:
            uploads.append(
                documents.read_upload(
                    f.stream, f.filename or "", f"{files.name}[{i}]", max_document_bytes()
                )
            )
        except InputError as error:
            field_errors(form, error, _file_names(files.name))
    return uploads


def _file_names(field: str) -> dict[str, str]:
    """Problems of the i-th file go under the file field, naming the file's number."""
    return {f"{field}[{i}]": field for i in range(documents.MAX_DOCUMENTS + 1)}


def kept_on_error(form: FlaskForm, step: Callable[[], T], names: dict[str, str]) -> T | None:
    """A form of the order page: its step's result, or None when the form or the step
    had a problem; then the page shows again with what was typed (the files excepted,
    which a browser never sends back) and every message, nothing of it saved."""
    if form.meta.csrf and not form.validate_on_submit() and "csrf_token" in form.errors:
        abort(400)
    try:
        return submit(form, step, names)
    except Conflict as error:
        refused(error)
        return None


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
    access.order_for(session, principal, order_id)
    form = DisputeForm()
    opened = kept_on_error(
        form,
        lambda: open_dispute(
            session,
            principal,
            order_id,
            form.reason.data or "",
            upload_folder=upload_folder(),
            uploads=_uploads(form, form.evidence),
        ),
        _file_names("evidence"),
    )
    if opened is None:
        return order_page(order_id, 400, dispute_form=form)
    flash(_("Dispute opened; the operators and the factories have been told."))
    return redirect(_order_page(order_id), code=303)


@pages.post("/orders/<int:order_id>/milestones")
@login_required
@takes_files(documents.MAX_DOCUMENTS, max_document_bytes)
def add_milestone(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    access.order_for(session, principal, order_id)
    form = MilestoneForm()
    reported = kept_on_error(
        form,
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
            uploads=_uploads(form, form.documents),
        ),
        _file_names("documents"),
    )
    if reported is None:
        return order_page(order_id, 400, milestone_form=form)
    flash(_("Milestone recorded."))
    return redirect(_order_page(order_id), code=303)


@pages.post("/orders/<int:order_id>/ratings")
@login_required
def add_rating(order_id: int) -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    access.order_for(session, principal, order_id)
    form = RatingForm()
    rated = kept_on_error(
        form,
        lambda: rate(
            session,
            principal,
            order_id,
            int(form.score.data) if (form.score.data or "").isdigit() else 0,
            form.comment.data or "",
            factory_id=_factory_id(form.factory_id.data),
        ),
        {},
    )
    if rated is None:
        return order_page(
            order_id, 400, rating_form=form, blank_rating_form=RatingForm(formdata=None)
        )
    flash(_("Thank you for your rating."))
    return redirect(_order_page(order_id), code=303)


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
