"""Orders, matching runs, proposals, milestones, notifications and webhooks in the REST API.

People signed in hold every scope of their role; machine clients (OAuth2 client
credentials of a factory) need the scope each endpoint names. Objects of other
organizations answer 404, never 403, so their existence is not revealed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, FileStorage, Tag
from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketplace import db
from marketplace.accounts.access import require_principal, scope_required
from marketplace.accounts.service import Principal
from marketplace.api.errors import ErrorBody, FieldProblem, error_response
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
from marketplace.orders.events import WEBHOOK_EVENTS
from marketplace.orders.models import (
    MatchRun,
    Milestone,
    Notification,
    Order,
    OrderLine,
    Proposal,
    WebhookDelivery,
    WebhookEndpoint,
)
from marketplace.orders.runs import latest_run
from marketplace.orders.service import (
    Conflict,
    LineInput,
    NotFound,
    OrderError,
    OrderInput,
    create_order,
    lines_of,
    order_for,
    orders_of,
)
from marketplace.orders.transitions import TransitionError

ORDERS = Tag(name="orders", description="Orders and their life: post, match, deliver, rate")
PROPOSALS = Tag(name="proposals", description="Work proposed to factories: accept or decline")
RUNS = Tag(name="matching runs", description="Solver runs, their progress, problem and plan")
NOTIFY = Tag(name="notifications", description="Notifications and outgoing webhooks")
SECURITY = [{"sessionCookie": []}, {"bearerAuth": []}]

api = APIBlueprint(
    "orders_api",
    __name__,
    url_prefix="/api/v1",
    abp_security=SECURITY,
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody},
)


# --- errors ---


class TransitionErrorBody(ErrorBody):
    state: str
    target: str
    allowed: list[str]


@api.errorhandler(NotFound)
def _not_found(error: NotFound) -> Response:
    return error_response(404, "not_found", "no such object")


@api.errorhandler(Conflict)
def _conflict(error: Conflict) -> Response:
    return error_response(409, "conflict", str(error))


@api.errorhandler(TransitionError)
def _invalid_transition(error: TransitionError) -> Response:
    body = TransitionErrorBody(
        error="invalid_transition",
        message=str(error),
        state=error.state,
        target=error.target,
        allowed=[str(s) for s in error.allowed],
    )
    response = jsonify(body.model_dump())
    response.status_code = 409
    return response


@api.errorhandler(OrderError)
def _order_error(error: OrderError) -> Response:
    problems = [FieldProblem(field=f, message=m) for f, m in error.problems]
    return error_response(
        422, "validation_failed", "; ".join(f"{p.field}: {p.message}" for p in problems), problems
    )


# --- models ---


class LineIn(BaseModel):
    process_code: str = Field(description="taxonomy process code, e.g. milling_3axis")
    material: str
    quantity: int
    hours: Decimal | None = Field(None, description="hours of the whole line")
    hours_per_part: Decimal | None = Field(None, description="instead of hours")
    length_mm: int = 1
    width_mm: int = 1
    height_mm: int = 1
    tolerance_class: str = "ISO 2768-m"
    certifications_required: list[str] = []
    splittable: bool = False


class OrderIn(BaseModel):
    title: str
    due_date: date
    delivery_country: str = Field(description="ISO 3166-1 alpha-2")
    delivery_city: str = ""
    delivery_latitude: float
    delivery_longitude: float
    budget_minor: int | None = Field(None, description="minor units of `currency`")
    currency: str = "EUR"
    min_credit: float = 0.0
    lines: list[LineIn]
    submit: bool = Field(False, description="post the order at once instead of a draft")


class LineOut(BaseModel):
    id: int
    line_no: int
    process_code: str
    material: str
    quantity: int
    hours: Decimal
    hours_per_part: Decimal | None
    length_mm: int
    width_mm: int
    height_mm: int
    tolerance_class: str
    certifications_required: list[str]
    splittable: bool


class ProposalOut(BaseModel):
    id: int
    order_id: int
    order_line_id: int
    factory_id: int
    match_run_id: int
    state: str
    hours: Decimal
    price_minor: int
    currency: str
    expires_at: datetime
    decided_at: datetime | None
    explanation: dict[str, Any] = Field(
        description="why the factory got the work; `engine` is the engine's own account "
        "of the line (`chosen`, `not_chosen`), for a factory of its own capacity lines only"
    )


class MilestoneOut(BaseModel):
    id: int
    order_id: int
    factory_id: int
    kind: str
    note: str
    carrier: str
    tracking_number: str
    created_at: datetime


class MilestoneList(BaseModel):
    milestones: list[MilestoneOut]


class OrderOut(BaseModel):
    id: int
    title: str
    state: str
    allowed_transitions: list[str]
    due_date: date
    delivery_country: str
    delivery_city: str
    delivery_latitude: float
    delivery_longitude: float
    budget_minor: int | None = Field(None, description="only for the buyer and operators")
    currency: str
    min_credit: float
    created_at: datetime
    confirmed_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None
    lines: list[LineOut]
    proposals: list[ProposalOut] = Field(description="a factory sees only its own")
    latest_run_id: int | None = None


class OrderList(BaseModel):
    orders: list[OrderOut]


class RunOut(BaseModel):
    id: int
    kind: str
    state: str
    time_limit_s: float
    progress: dict[str, Any]
    solver_status: str | None
    outcome: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class OrderPath(BaseModel):
    order_id: int


class ProposalPath(BaseModel):
    proposal_id: int


class RunPath(BaseModel):
    run_id: int


class EndpointPath(BaseModel):
    endpoint_id: int


class OrdersQuery(BaseModel):
    state: str | None = None


class MatchIn(BaseModel):
    time_limit_s: float | None = Field(None, description="0.5 to 60 seconds")


class DeclineIn(BaseModel):
    note: str = Field("", max_length=500)


class DisputeIn(BaseModel):
    reason: str


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


class NotificationOut(BaseModel):
    id: int
    kind: str
    order_id: int | None
    params: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    unread: int
    notifications: list[NotificationOut]


class EndpointIn(BaseModel):
    url: str
    events: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENTS))


class EndpointOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    secret: str = Field(description="HMAC-SHA256 key of the X-FactoryWeb-Signature header")
    created_at: datetime


class AttemptOut(BaseModel):
    number: int = Field(description="1 for the first attempt")
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str = Field(description="what went wrong: HTTP <status>, or why no answer came")


class DeliveryOut(BaseModel):
    id: int
    event: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[AttemptOut] = Field(description="every attempt, first attempt first")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


# --- helpers ---


def _proposal_out(p: Proposal, principal: Principal) -> dict[str, Any]:
    # A factory sees the engine's account of its own capacity lines only.
    explanation = proposals_service.explanation_for(principal, p)
    return ProposalOut(
        id=p.id,  # type: ignore[arg-type]
        order_id=p.order_id,
        order_line_id=p.order_line_id,
        factory_id=p.factory_id,
        match_run_id=p.match_run_id,
        state=p.state,
        hours=p.hours,
        price_minor=p.price_minor,
        currency=p.currency,
        expires_at=p.expires_at,
        decided_at=p.decided_at,
        explanation=explanation,
    ).model_dump(mode="json")


def _order_out(session: Any, principal: Principal, order: Order) -> dict[str, Any]:
    see_all = principal.is_operator or principal.acts_for(order.buyer_organization_id)
    run = latest_run(session, order.id) if see_all else None  # type: ignore[arg-type]
    from marketplace.orders.transitions import allowed_targets

    return {
        **OrderOut(
            id=order.id,  # type: ignore[arg-type]
            title=order.title,
            state=order.state,
            allowed_transitions=[str(s) for s in allowed_targets(order)],
            due_date=order.due_date,
            delivery_country=order.delivery_country,
            delivery_city=order.delivery_city,
            delivery_latitude=order.delivery_latitude,
            delivery_longitude=order.delivery_longitude,
            budget_minor=order.budget_minor if see_all else None,
            currency=order.currency,
            min_credit=order.min_credit,
            created_at=order.created_at,
            confirmed_at=order.confirmed_at,
            delivered_at=order.delivered_at,
            closed_at=order.closed_at,
            lines=[_line_out(line) for line in lines_of(session, order.id)],  # type: ignore[arg-type]
            proposals=[],
            latest_run_id=run.id if run else None,
        ).model_dump(mode="json"),
        "proposals": [
            _proposal_out(p, principal)
            for p in proposals_service.proposals_of_order(session, principal, order)
        ],
    }


def _line_out(line: OrderLine) -> LineOut:
    return LineOut.model_validate(line, from_attributes=True)


def _run_out(run: MatchRun) -> dict[str, Any]:
    return RunOut.model_validate(run, from_attributes=True).model_dump(mode="json")


def _run_for(session: Any, principal: Principal, run_id: int) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id}")
    if principal.is_operator or (
        principal.is_buyer
        and run.organization_id is not None
        and principal.acts_for(run.organization_id)
    ):
        return run
    raise NotFound(f"run {run_id}")


# --- orders ---


@api.get("/orders", tags=[ORDERS], responses={200: OrderList})
@scope_required("orders:read")
def list_orders(query: OrdersQuery):  # type: ignore[no-untyped-def]
    """The buyer's own orders; for a factory, the orders it has been offered work on."""
    session, principal = db.session(), require_principal()
    return {
        "orders": [
            _order_out(session, principal, o) for o in orders_of(session, principal, query.state)
        ]
    }


@api.post("/orders", tags=[ORDERS], responses={201: OrderOut})
@scope_required("orders:write")
def post_order(body: OrderIn):  # type: ignore[no-untyped-def]
    """Post an order (a draft unless `submit` is true); every bad field is named."""
    session, principal = db.session(), require_principal()
    if not principal.is_buyer:
        raise NotFound("orders")
    data = OrderInput(
        title=body.title,
        due_date=body.due_date,
        delivery_country=body.delivery_country,
        delivery_city=body.delivery_city,
        delivery_latitude=body.delivery_latitude,
        delivery_longitude=body.delivery_longitude,
        budget_minor=body.budget_minor,
        currency=body.currency,
        min_credit=body.min_credit,
        lines=[LineInput(**line.model_dump()) for line in body.lines],
    )
    order = create_order(session, principal, data, submit=body.submit)
    return _order_out(session, principal, order), 201


@api.get("/orders/<int:order_id>", tags=[ORDERS], responses={200: OrderOut})
@scope_required("orders:read")
def get_order(path: OrderPath):  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    return _order_out(session, principal, order_for(session, principal, path.order_id))


def _step(path: OrderPath, step: Any) -> Any:
    session, principal = db.session(), require_principal()
    order = step(session, principal, path.order_id)
    return _order_out(session, principal, order)


@api.post(
    "/orders/<int:order_id>/submit",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def submit_order(path: OrderPath):  # type: ignore[no-untyped-def]
    """draft -> open."""
    return _step(path, lifecycle.submit)


@api.post(
    "/orders/<int:order_id>/cancel",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def cancel_order(path: OrderPath):  # type: ignore[no-untyped-def]
    """Cancel before production; every held or booked hour is given back."""
    return _step(path, lifecycle.cancel)


@api.post(
    "/orders/<int:order_id>/deliver",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def deliver_order(path: OrderPath):  # type: ignore[no-untyped-def]
    """The buyer confirms delivery: shipped -> delivered."""
    return _step(path, lifecycle.confirm_delivery)


@api.post(
    "/orders/<int:order_id>/close",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def close_order(path: OrderPath):  # type: ignore[no-untyped-def]
    """delivered -> closed; ratings open."""
    return _step(path, lifecycle.close)


@api.post(
    "/orders/<int:order_id>/match", tags=[RUNS], responses={202: RunOut, 409: TransitionErrorBody}
)
@scope_required("orders:write")
def match_order(path: OrderPath, body: MatchIn):  # type: ignore[no-untyped-def]
    """Start a matching run; poll GET /match-runs/{run_id} for its progress."""
    session, principal = db.session(), require_principal()
    limit = body.time_limit_s or current_settings()["MATCH_TIME_LIMIT_S"]
    run = lifecycle.request_matching(session, principal, path.order_id, limit)
    return _run_out(run), 202


@api.post(
    "/orders/<int:order_id>/dispute",
    tags=[ORDERS],
    responses={201: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def dispute_order(path: OrderPath, form: EvidenceForm):  # type: ignore[no-untyped-def]
    """Open a dispute (multipart/form-data: `reason` and `evidence` files)."""
    session, principal = db.session(), require_principal()
    uploads = [
        documents.read_upload(f.stream, f.filename or "", f"evidence[{i}]", max_document_bytes())
        for i, f in enumerate(form.evidence)
    ]
    lifecycle.open_dispute(
        session,
        principal,
        path.order_id,
        form.reason,
        upload_folder=upload_folder(),
        uploads=uploads,
    )
    return _order_out(session, principal, order_for(session, principal, path.order_id)), 201


@api.post("/orders/<int:order_id>/ratings", tags=[ORDERS], responses={201: OrderOut})
@scope_required("orders:write")
def rate_order(path: OrderPath, body: RatingIn):  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    lifecycle.rate(session, principal, path.order_id, body.score, body.comment, body.factory_id)
    return _order_out(session, principal, order_for(session, principal, path.order_id)), 201


@api.get("/orders/<int:order_id>/milestones", tags=[ORDERS], responses={200: MilestoneList})
@scope_required("orders:read")
def list_milestones(path: OrderPath):  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    order = order_for(session, principal, path.order_id)
    see_all = principal.is_operator or principal.acts_for(order.buyer_organization_id)
    mine = None
    if not see_all:
        mine = [
            f.id
            for f in lifecycle.participants(session, order.id)
            if principal.acts_for(f.organization_id)
        ]  # type: ignore[arg-type]
    return {
        "milestones": [
            MilestoneOut.model_validate(m, from_attributes=True).model_dump(mode="json")
            for m in lifecycle.milestones_of(session, order.id, mine)  # type: ignore[arg-type]
        ]
    }


@api.post("/orders/<int:order_id>/milestones", tags=[ORDERS], responses={201: MilestoneOut})
@scope_required("milestones:write")
def post_milestone(path: OrderPath, form: MilestoneForm):  # type: ignore[no-untyped-def]
    """A factory reports started, qa_passed (with its QA documents) or shipped (with tracking)."""
    session, principal = db.session(), require_principal()
    uploads = [
        documents.read_upload(f.stream, f.filename or "", f"documents[{i}]", max_document_bytes())
        for i, f in enumerate(form.documents)
    ]
    milestone: Milestone = lifecycle.add_milestone(
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
    return MilestoneOut.model_validate(milestone, from_attributes=True).model_dump(mode="json"), 201


# --- runs ---


@api.get("/match-runs/<int:run_id>", tags=[RUNS], responses={200: RunOut})
@scope_required("orders:read")
def get_run(path: RunPath):  # type: ignore[no-untyped-def]
    """State and live progress (best fill and cost so far, seconds used)."""
    session, principal = db.session(), require_principal()
    return _run_out(_run_for(session, principal, path.run_id))


@api.get("/match-runs/<int:run_id>/problem", tags=[RUNS])
@scope_required("orders:read")
def get_run_problem(path: RunPath):  # type: ignore[no-untyped-def]
    """The contract-v1 problem, for `factoryweb match`."""
    session, principal = db.session(), require_principal()
    return _run_for(session, principal, path.run_id).problem


@api.get("/match-runs/<int:run_id>/plan", tags=[RUNS])
@scope_required("orders:read")
def get_run_plan(path: RunPath):  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    plan = _run_for(session, principal, path.run_id).plan
    if plan is None:
        raise NotFound("plan")
    return plan


# --- proposals ---


class ProposalList(BaseModel):
    proposals: list[ProposalOut]


class ProposalsQuery(BaseModel):
    state: str | None = None


@api.get("/proposals", tags=[PROPOSALS], responses={200: ProposalList})
@scope_required("proposals:read")
def list_proposals(query: ProposalsQuery):  # type: ignore[no-untyped-def]
    """Work proposed to the caller's factories, newest first."""
    session, principal = db.session(), require_principal()
    if not principal.is_factory:
        return {"proposals": []}
    items = proposals_service.proposals_of_factories(
        session, principal.organization_id, query.state
    )
    return {"proposals": [_proposal_out(p, principal) for p in items]}


@api.get("/proposals/<int:proposal_id>", tags=[PROPOSALS], responses={200: ProposalOut})
@scope_required("proposals:read")
def get_proposal(path: ProposalPath):  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    return _proposal_out(
        proposals_service.proposal_for(session, principal, path.proposal_id), principal
    )


@api.post("/proposals/<int:proposal_id>/accept", tags=[PROPOSALS], responses={200: ProposalOut})
@scope_required("proposals:write")
def accept_proposal(path: ProposalPath):  # type: ignore[no-untyped-def]
    """Accept before the deadline: the held hours become booked."""
    session, principal = db.session(), require_principal()
    return _proposal_out(proposals_service.accept(session, principal, path.proposal_id), principal)


@api.post("/proposals/<int:proposal_id>/decline", tags=[PROPOSALS], responses={200: ProposalOut})
@scope_required("proposals:write")
def decline_proposal(path: ProposalPath, body: DeclineIn):  # type: ignore[no-untyped-def]
    """Decline: the hours are released and the work is re-matched elsewhere."""
    session, principal = db.session(), require_principal()
    proposal = proposals_service.decline(session, principal, path.proposal_id, body.note)
    return _proposal_out(proposal, principal)


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
    extra_cost_minor: int | None = Field(
        None,
        description="more_expensive: how much more your price was than the chosen "
        "factory's, in minor units of `currency`",
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
        factory_id=item.factory.id,  # type: ignore[arg-type]
        order_id=item.order.id,  # type: ignore[arg-type]
        order_title=item.order.title,
        order_line_id=item.line.id,  # type: ignore[arg-type]
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
def list_lost_work(query: LostWorkQuery):  # type: ignore[no-untyped-def]
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
def get_lost_work(path: LostWorkPath):  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    item = lost.lost_work_for(session, principal, path.lost_work_id)
    return _lost_work_out(item).model_dump(mode="json")


# --- notifications and webhooks ---


def _notifications(session: Any, principal: Principal) -> dict[str, Any]:
    items: list[Notification] = events.notifications_of(session, principal.organization_id)
    return {
        "unread": events.unread_count(session, principal.organization_id),
        "notifications": [
            NotificationOut.model_validate(n, from_attributes=True).model_dump(mode="json")
            for n in items
        ],
    }


@api.get("/notifications", tags=[NOTIFY], responses={200: NotificationList})
@scope_required("orders:read")
def list_notifications():  # type: ignore[no-untyped-def]
    return _notifications(db.session(), require_principal())


@api.post("/notifications/read", tags=[NOTIFY], responses={200: NotificationList})
@scope_required("orders:read")
def read_notifications():  # type: ignore[no-untyped-def]
    session, principal = db.session(), require_principal()
    events.mark_read(session, principal.organization_id)
    return _notifications(session, principal)


def _people_only() -> Principal:
    principal = require_principal()
    if principal.user_id is None:
        raise NotFound("webhooks")
    return principal


def _endpoint_out(e: WebhookEndpoint) -> dict[str, Any]:
    return EndpointOut.model_validate(e, from_attributes=True).model_dump(mode="json")


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


@api.get("/webhooks", tags=[NOTIFY], responses={200: EndpointList})
@scope_required("orders:read")
def list_webhooks():  # type: ignore[no-untyped-def]
    session, principal = db.session(), _people_only()
    return {
        "endpoints": [
            _endpoint_out(e)
            for e in webhooks_service.endpoints_of(session, principal.organization_id)
        ]
    }


@api.post("/webhooks", tags=[NOTIFY], responses={201: EndpointOut})
@scope_required("orders:write")
def add_webhook(body: EndpointIn):  # type: ignore[no-untyped-def]
    session, principal = db.session(), _people_only()
    endpoint = webhooks_service.create_endpoint(
        session,
        principal.organization_id,
        body.url,
        body.events,
        allow_private=current_settings()["WEBHOOK_ALLOW_PRIVATE"],
    )
    return _endpoint_out(endpoint), 201


def _endpoint_for(session: Any, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not principal.acts_for(endpoint.organization_id):
        raise NotFound(f"endpoint {endpoint_id}")
    return endpoint


@api.delete("/webhooks/<int:endpoint_id>", tags=[NOTIFY], responses={204: None})
@scope_required("orders:write")
def delete_webhook(path: EndpointPath):  # type: ignore[no-untyped-def]
    session, principal = db.session(), _people_only()
    session.delete(_endpoint_for(session, principal, path.endpoint_id))
    return "", 204


@api.get("/webhooks/<int:endpoint_id>/deliveries", tags=[NOTIFY], responses={200: DeliveryList})
@scope_required("orders:read")
def list_deliveries(path: EndpointPath):  # type: ignore[no-untyped-def]
    """The delivery log: every event sent to the endpoint, where it stands, and the
    history of its attempts (when, how long, the answer or the error)."""
    session, principal = db.session(), _people_only()
    endpoint = _endpoint_for(session, principal, path.endpoint_id)
    items: list[WebhookDelivery] = webhooks_service.deliveries_of(session, endpoint.id)  # type: ignore[arg-type]
    history = webhooks_service.attempts_of(session, [d.id for d in items])  # type: ignore[misc]
    return {
        "deliveries": [
            DeliveryOut(
                **d.model_dump(include=set(DeliveryOut.model_fields) - {"history"}),
                history=[
                    AttemptOut.model_validate(a, from_attributes=True)
                    for a in history[d.id]  # type: ignore[index]
                ],
            ).model_dump(mode="json")
            for d in items
        ]
    }
