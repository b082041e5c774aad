"""Production in the REST API: milestones with QA documents, delivery, closing,
disputes with evidence, ratings."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import FileStorage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketplace import db
from marketplace.accounts.access import require_principal, scope_required
from marketplace.api.answers import ApiAnswer
from marketplace.orders import access, presenters
from marketplace.orders.blueprints import ORDERS, TransitionErrorBody, api
from marketplace.orders.posting.api import buyer_step, order_answer
from marketplace.orders.production import documents
from marketplace.orders.production.disputes import open_dispute
from marketplace.orders.production.ratings import rate
from marketplace.orders.production.service import (
    add_milestone,
    close,
    confirm_delivery,
    milestones_of,
)
from marketplace.orders.schemas import MilestoneList, MilestoneOut, OrderOut, OrderPath
from marketplace.orders.settings import max_document_bytes, upload_folder
from marketplace.security.limits import takes_files


class RatingIn(BaseModel):
    score: int
    comment: str = ""
    factory_id: int | None = Field(None, description="the factory a buyer rates")


class MilestoneForm(BaseModel):
    """multipart/form-data, so that QA reports can travel with the milestone."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    kind: str = Field(description="started, qa_passed or shipped")
    factory_id: int | None = None
    note: str = ""
    carrier: str = ""
    tracking_number: str = ""
    documents: list[FileStorage] = []

    @field_validator("kind", "note", "carrier", "tracking_number", mode="before")
    @classmethod
    def as_text(cls, value: Any) -> str:
        # Form values arrive JSON-decoded; a numeric tracking number is still text.
        return "" if value is None else str(value)


class EvidenceForm(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    reason: str
    evidence: list[FileStorage] = []

    @field_validator("reason", mode="before")
    @classmethod
    def as_text(cls, value: Any) -> str:
        return "" if value is None else str(value)


@api.post(
    "/orders/<int:order_id>/deliver",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def deliver_order(path: OrderPath) -> ApiAnswer:
    """The buyer confirms delivery: shipped -> delivered."""
    return buyer_step(path, confirm_delivery)


@api.post(
    "/orders/<int:order_id>/close",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def close_order(path: OrderPath) -> ApiAnswer:
    """delivered -> closed; ratings open."""
    return buyer_step(path, close)


@api.post(
    "/orders/<int:order_id>/dispute",
    tags=[ORDERS],
    responses={201: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
@takes_files(documents.MAX_DOCUMENTS, max_document_bytes)
def dispute_order(path: OrderPath, form: EvidenceForm) -> ApiAnswer:
    """Open a dispute (multipart/form-data: `reason` and `evidence` files)."""
    session, principal = db.session(), require_principal()
    uploads = [
        documents.read_upload(f.stream, f.filename or "", f"evidence[{i}]", max_document_bytes())
        for i, f in enumerate(form.evidence)
    ]
    open_dispute(
        session,
        principal,
        path.order_id,
        form.reason,
        upload_folder=upload_folder(),
        uploads=uploads,
    )
    return order_answer(path.order_id), 201


@api.post("/orders/<int:order_id>/ratings", tags=[ORDERS], responses={201: OrderOut})
@scope_required("orders:write")
def rate_order(path: OrderPath, body: RatingIn) -> ApiAnswer:
    session, principal = db.session(), require_principal()
    rate(session, principal, path.order_id, body.score, body.comment, body.factory_id)
    return order_answer(path.order_id), 201


@api.get("/orders/<int:order_id>/milestones", tags=[ORDERS], responses={200: MilestoneList})
@scope_required("orders:read")
def list_milestones(path: OrderPath) -> ApiAnswer:
    session, principal = db.session(), require_principal()
    order = access.order_for(session, principal, path.order_id)
    mine = access.milestone_factories(session, principal, order)
    return {
        "milestones": [
            presenters.milestone_out(m) for m in milestones_of(session, path.order_id, mine)
        ]
    }


@api.post("/orders/<int:order_id>/milestones", tags=[ORDERS], responses={201: MilestoneOut})
@scope_required("milestones:write")
@takes_files(documents.MAX_DOCUMENTS, max_document_bytes)
def post_milestone(path: OrderPath, form: MilestoneForm) -> ApiAnswer:
    """A factory reports started, qa_passed (with its QA documents) or shipped (with tracking)."""
    session, principal = db.session(), require_principal()
    uploads = [
        documents.read_upload(f.stream, f.filename or "", f"documents[{i}]", max_document_bytes())
        for i, f in enumerate(form.documents)
    ]
    milestone = add_milestone(
        session,
        principal,
        path.order_id,
        form.kind,
        upload_folder=upload_folder(),
        factory_id=form.factory_id,
        note=form.note,
        carrier=form.carrier,
        tracking_number=form.tracking_number,
        uploads=uploads,
    )
    return presenters.milestone_out(milestone), 201
