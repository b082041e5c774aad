"""Proposals in the REST API: a factory's work, its answers, and the work it lost."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from factories.models import id_of
from marketplace import db
from marketplace.accounts.access import require_principal, scope_required
from marketplace.api.answers import ApiAnswer
from marketplace.orders import access, presenters
from marketplace.orders.blueprints import PROPOSALS, api
from marketplace.orders.proposals import lost
from marketplace.orders.proposals.service import accept, decline
from marketplace.orders.schemas import ProposalOut, ProposalPath


class DeclineIn(BaseModel):
    note: str = Field("", max_length=500)


class ProposalList(BaseModel):
    proposals: list[ProposalOut]


class ProposalsQuery(BaseModel):
    state: str | None = None


@api.get("/proposals", tags=[PROPOSALS], responses={200: ProposalList})
@scope_required("proposals:read")
def list_proposals(query: ProposalsQuery) -> ApiAnswer:
    """Work proposed to the caller's factories, newest first."""
    session, principal = db.session(), require_principal()
    items = access.proposals_of_factories(session, principal, query.state)
    return {"proposals": presenters.proposals_out(session, principal, list(items))}


@api.get("/proposals/<int:proposal_id>", tags=[PROPOSALS], responses={200: ProposalOut})
@scope_required("proposals:read")
def get_proposal(path: ProposalPath) -> ApiAnswer:
    session, principal = db.session(), require_principal()
    proposal = access.proposal_for(session, principal, path.proposal_id)
    return presenters.proposals_out(session, principal, [proposal])[0]


@api.post("/proposals/<int:proposal_id>/accept", tags=[PROPOSALS], responses={200: ProposalOut})
@scope_required("proposals:write")
def accept_proposal(path: ProposalPath) -> ApiAnswer:
    """Accept before the deadline: the held hours become booked."""
    session, principal = db.session(), require_principal()
    proposal = accept(session, principal, path.proposal_id)
    return presenters.proposals_out(session, principal, [proposal])[0]


@api.post("/proposals/<int:proposal_id>/decline", tags=[PROPOSALS], responses={200: ProposalOut})
@scope_required("proposals:write")
def decline_proposal(path: ProposalPath, body: DeclineIn) -> ApiAnswer:
    """Decline: the hours are released and the work is re-matched elsewhere."""
    session, principal = db.session(), require_principal()
    proposal = decline(session, principal, path.proposal_id, body.note)
    return presenters.proposals_out(session, principal, [proposal])[0]


# --- lost work ---


class LostReasonOut(BaseModel):
    resource: str | None = Field(None, description="your capacity line (process code)")
    reason: str = Field(
        description="credit_below_minimum, shipping_too_slow, no_capacity_in_window, "
        "no_free_capacity_in_window, more_expensive, not_needed, not_used, not_held "
        "(the plan chose you but the hours were booked meanwhile) or unexplained"
    )
    text: str = Field(description="the reason in one English sentence")
    credit: float | None = Field(None, description="credit_below_minimum: your credit score")
    min_credit: float | None = Field(None, description="credit_below_minimum: the minimum")
    lead_weeks: int | None = Field(None, description="shipping_too_slow: your shipping time")
    due_week: str | None = Field(None, description="shipping_too_slow: the ISO due week")
    free_hours: float | None = Field(
        None, description="capacity reasons: your free hours in the window"
    )
    needed_hours: float | None = Field(None, description="capacity reasons: hours needed")
    window: list[str] | None = Field(
        None, description="capacity reasons: first and last ISO week production could use"
    )
    splittable: bool | None = None
    price_rank: int | None = Field(
        None, description="more_expensive: your place among the factories by price (1: cheapest)"
    )
    price_of: int | None = Field(None, description="more_expensive: how many factories")
    price_band: str | None = Field(
        None,
        description="more_expensive: how far above the price that got the work: "
        "within_10_percent, 10_to_30_percent or over_30_percent (never by how much)",
    )
    hours: float | None = Field(None, description="not_held: hours the plan gave you")


class LostWorkOut(BaseModel):
    id: int
    factory_id: int
    order_id: int
    order_title: str
    order_line_id: int
    line_no: int
    process_code: str
    material: str
    quantity: int
    hours: Decimal
    due_date: date
    currency: str
    match_run_id: int
    lost_at: datetime
    reason: LostReasonOut = Field(description="the binding reason (the closest to winning)")
    reasons: list[LostReasonOut] = Field(description="one per capacity line that was an option")


class LostWorkPage(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    results: list[LostWorkOut]


class LostWorkQuery(BaseModel):
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=lost.MAX_PER_PAGE)


class LostWorkPath(BaseModel):
    lost_work_id: int


def _lost_reason_out(reason: dict[str, Any], currency: str) -> LostReasonOut:
    known = {k: v for k, v in reason.items() if k in LostReasonOut.model_fields and k != "text"}
    return LostReasonOut(**known, text=str(lost.reason_message(reason, currency)))


def _lost_work_out(item: lost.LostItem) -> LostWorkOut:
    currency = item.order.currency
    return LostWorkOut(
        id=item.id,
        factory_id=id_of(item.factory),
        order_id=id_of(item.order),
        order_title=item.order.title,
        order_line_id=id_of(item.line),
        line_no=item.line.line_no,
        process_code=item.line.process_code,
        material=item.line.material,
        quantity=item.line.quantity,
        hours=item.line.hours,
        due_date=item.order.due_date,
        currency=currency,
        match_run_id=item.match_run_id,
        lost_at=item.lost_at,
        reason=_lost_reason_out(item.reason, currency),
        reasons=[_lost_reason_out(r, currency) for r in item.reasons],
    )


@api.get("/lost-work", tags=[PROPOSALS], responses={200: LostWorkPage})
@scope_required("proposals:read")
def list_lost_work(query: LostWorkQuery) -> ApiAnswer:
    """Order lines the caller's factories were an option for and got none of, latest
    first, each with the engine's binding reason (never who got the work, or their price).
    Only factories have lost work; anyone else gets 404."""
    session, principal = db.session(), require_principal()
    result = lost.lost_work_of(session, principal, query.page, query.per_page)
    return LostWorkPage(
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
        results=[_lost_work_out(item) for item in result.items],
    ).model_dump(mode="json")


@api.get("/lost-work/<int:lost_work_id>", tags=[PROPOSALS], responses={200: LostWorkOut})
@scope_required("proposals:read")
def get_lost_work(path: LostWorkPath) -> ApiAnswer:
    session, principal = db.session(), require_principal()
    item = lost.lost_work_for(session, principal, path.lost_work_id)
    return _lost_work_out(item).model_dump(mode="json")
