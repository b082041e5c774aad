"""Orders in the REST API: list, post, read, and the buyer's steps on the order itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from factories.errors import NotFound
from marketplace import db
from marketplace.accounts.access import require_principal, scope_required
from marketplace.api.answers import ApiAnswer
from marketplace.orders import access, presenters
from marketplace.orders.blueprints import ORDERS, TransitionErrorBody, api
from marketplace.orders.posting.service import (
    LineInput,
    OrderInput,
    create_order,
    orders_of,
    submit,
)
from marketplace.orders.proposals.service import cancel_order as cancel
from marketplace.orders.schemas import OrderList, OrderOut, OrderPath


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


class OrdersQuery(BaseModel):
    state: str | None = None


def order_answer(order_id: int) -> dict[str, Any]:
    """The order as the caller sees it, after a step."""
    session, principal = db.session(), require_principal()
    order = access.order_for(session, principal, order_id)
    return presenters.order_out(principal, presenters.order_view(session, principal, order))


def buyer_step(path: OrderPath, step: Any) -> dict[str, Any]:
    session, principal = db.session(), require_principal()
    order = step(session, principal, path.order_id)
    return presenters.order_out(principal, presenters.order_view(session, principal, order))


@api.get("/orders", tags=[ORDERS], responses={200: OrderList})
@scope_required("orders:read")
def list_orders(query: OrdersQuery) -> ApiAnswer:
    """The buyer's own orders; for a factory, the orders it has been offered work on."""
    session, principal = db.session(), require_principal()
    return {
        "orders": [
            presenters.order_out(principal, presenters.order_view(session, principal, o))
            for o in orders_of(session, principal, query.state)
        ]
    }


@api.post("/orders", tags=[ORDERS], responses={201: OrderOut})
@scope_required("orders:write")
def post_order(body: OrderIn) -> ApiAnswer:
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
    return presenters.order_out(principal, presenters.order_view(session, principal, order)), 201


@api.get("/orders/<int:order_id>", tags=[ORDERS], responses={200: OrderOut})
@scope_required("orders:read")
def get_order(path: OrderPath) -> ApiAnswer:
    return order_answer(path.order_id)


@api.post(
    "/orders/<int:order_id>/submit",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def submit_order(path: OrderPath) -> ApiAnswer:
    """draft -> open."""
    return buyer_step(path, submit)


@api.post(
    "/orders/<int:order_id>/cancel",
    tags=[ORDERS],
    responses={200: OrderOut, 409: TransitionErrorBody},
)
@scope_required("orders:write")
def cancel_order(path: OrderPath) -> ApiAnswer:
    """Cancel before production; every held or booked hour is given back."""
    return buyer_step(path, cancel)
