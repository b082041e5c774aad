"""Shapes of the orders area's objects in the REST API (pydantic, so that the OpenAPI
document is generated from them), shared by the rooms' `api.py` modules."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


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
