"""Posting orders: checking every field of an order and its lines, saving it as a
draft or open, and the queries of the orders a principal may list.

Every path that changes an order locks its row first (`lock_orders`, in id order when
there are several), so that the buyer's steps, the factories' answers, expiry and the
application of a run's plan never interleave on one order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, col, select

from factories.capability import Amount, quoted_currencies
from factories.capacity.hours import quantize_hours
from factories.errors import N_
from factories.models import among, id_of, too_long, utcnow
from factories.taxonomy import (
    CERTIFICATIONS,
    MATERIALS,
    PROCESSES,
    TOLERANCE_CLASSES,
    materials_for,
)
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.orders import access
from marketplace.orders.errors import OrderError
from marketplace.orders.models import Order, OrderLine, OrderState
from marketplace.orders.transitions import move

MAX_LINES = 50
MAX_LINE_HOURS = Decimal("100000")
MAX_HORIZON_DAYS = 365
MAX_DIMENSION_MM = 100_000
MAX_QUANTITY = 10_000_000
MAX_BUDGET_MINOR = 10**15  # well inside BIGINT, beyond any order placed here
# fullmatch only: `$` also matches before a final newline, and "DE\n" is no country.
CURRENCY = re.compile(r"[A-Z]{3}")
COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass
class LineInput:
    process_code: str
    material: str
    quantity: int
    hours: Decimal | None = None
    hours_per_part: Decimal | None = None
    length_mm: int = 1
    width_mm: int = 1
    height_mm: int = 1
    tolerance_class: str = "ISO 2768-m"
    certifications_required: list[str] = field(default_factory=list)
    splittable: bool = False


@dataclass
class OrderInput:
    title: str
    due_date: date
    delivery_country: str
    delivery_latitude: float
    delivery_longitude: float
    lines: list[LineInput]
    delivery_city: str = ""
    budget_minor: int | None = None
    currency: str = "EUR"
    min_credit: float = 0.0


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal("NaN")
    return number


def validate_order(data: OrderInput, today: date) -> list[tuple[str, str]]:
    """Every problem with the input, each naming its field."""
    problems: list[tuple[str, str]] = []
    if not data.title.strip():
        problems.append(("title", N_("is required")))
    elif message := too_long(data.title.strip(), Order, "title"):
        problems.append(("title", message))
    if data.due_date <= today:
        problems.append(("due_date", N_("must be after today")))
    elif data.due_date > today + timedelta(days=MAX_HORIZON_DAYS):
        problems.append(("due_date", N_("must be within %(days)s days", days=MAX_HORIZON_DAYS)))
    if not COUNTRY.fullmatch(data.delivery_country.upper()):
        problems.append(("delivery_country", N_("must be a two-letter ISO 3166 code")))
    if message := too_long(data.delivery_city.strip(), Order, "delivery_city"):
        problems.append(("delivery_city", message))
    if not -90 <= data.delivery_latitude <= 90:
        problems.append(("delivery_latitude", N_("must be between -90 and 90")))
    if not -180 <= data.delivery_longitude <= 180:
        problems.append(("delivery_longitude", N_("must be between -180 and 180")))
    if data.budget_minor is not None and data.budget_minor < 0:
        problems.append(("budget_minor", N_("must not be negative")))
    elif data.budget_minor is not None and data.budget_minor > MAX_BUDGET_MINOR:
        currency = data.currency if CURRENCY.fullmatch(data.currency) else "EUR"
        problems.append(
            (
                "budget_minor",
                N_("must be at most %(maximum)s", maximum=Amount(MAX_BUDGET_MINOR, currency)),
            )
        )
    if not CURRENCY.fullmatch(data.currency):
        problems.append(("currency", N_("must be a three-letter ISO 4217 code")))
    if not 0 <= data.min_credit <= 1:
        problems.append(("min_credit", N_("must be between 0 and 1")))
    if not data.lines:
        problems.append(("lines", N_("an order needs at least one line")))
    if len(data.lines) > MAX_LINES:
        problems.append(("lines", N_("an order has at most %(maximum)s lines", maximum=MAX_LINES)))
    for i, line in enumerate(data.lines[:MAX_LINES]):
        problems.extend((f"lines[{i}].{f}", m) for f, m in _line_problems(line))
    return problems


def _line_problems(line: LineInput) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if line.process_code not in PROCESSES:
        problems.append(("process_code", N_("unknown process %(code)r", code=line.process_code)))
    if line.material not in MATERIALS:
        problems.append(("material", N_("unknown material %(code)r", code=line.material)))
    elif line.process_code in PROCESSES and line.material not in {
        m.code for m in materials_for(line.process_code)
    }:
        problems.append(
            (
                "material",
                N_(
                    "%(material)s cannot be made by %(process)s",
                    material=line.material,
                    process=line.process_code,
                ),
            )
        )
    if not 1 <= line.quantity <= MAX_QUANTITY:
        problems.append(("quantity", N_("must be between 1 and %(maximum)s", maximum=MAX_QUANTITY)))
    hours, per_part = _decimal(line.hours), _decimal(line.hours_per_part)
    if (hours is None) == (per_part is None):
        problems.append(("hours", N_("give either the hours of the line or the hours per part")))
    elif hours is not None and not (hours.is_finite() and 0 < hours <= MAX_LINE_HOURS):
        problems.append(
            ("hours", N_("must be more than 0 and at most %(maximum)s", maximum=MAX_LINE_HOURS))
        )
    elif hours is not None and line_hours(line) <= 0:
        problems.append(("hours", N_("must be at least 0.01")))
    elif per_part is not None and not (per_part.is_finite() and per_part > 0):
        problems.append(("hours_per_part", N_("must be more than 0")))
    elif per_part is not None and line_hours(line) > MAX_LINE_HOURS:
        problems.append(
            (
                "hours_per_part",
                N_("quantity x hours per part must be at most %(maximum)s", maximum=MAX_LINE_HOURS),
            )
        )
    elif per_part is not None and line_hours(line) <= 0:
        problems.append(("hours_per_part", N_("quantity x hours per part must be at least 0.01")))
    for name in ("length_mm", "width_mm", "height_mm"):
        if not 1 <= getattr(line, name) <= MAX_DIMENSION_MM:
            problems.append(
                (name, N_("must be between 1 and %(maximum)s", maximum=MAX_DIMENSION_MM))
            )
    if line.tolerance_class not in TOLERANCE_CLASSES:
        problems.append(
            (
                "tolerance_class",
                N_("must be one of %(choices)s", choices=", ".join(TOLERANCE_CLASSES)),
            )
        )
    for j, code in enumerate(line.certifications_required):
        if code not in CERTIFICATIONS:
            problems.append(
                (
                    f"certifications_required[{j}]",
                    N_("unknown certification %(code)r", code=code),
                )
            )
    return problems


def line_hours(line: LineInput) -> Decimal:
    if line.hours is not None:
        hours = Decimal(str(line.hours))
    else:
        hours = Decimal(line.quantity) * Decimal(str(line.hours_per_part))
    return quantize_hours(hours)


def create_order(
    session: Session, principal: Principal, data: OrderInput, *, submit: bool = False
) -> Order:
    """A new order of the principal's (buyer) organization, as a draft or already open."""
    if not principal.is_buyer:
        raise OrderError("organization", N_("only buyer organizations post orders"))
    today = utcnow().date()
    problems = validate_order(data, today)
    if problems:
        raise OrderError.of(problems)
    order = Order(
        buyer_organization_id=principal.organization_id,
        created_by_id=principal.user_id,
        title=data.title.strip(),
        state=OrderState.DRAFT,
        due_date=data.due_date,
        delivery_country=data.delivery_country.upper(),
        delivery_city=data.delivery_city.strip(),
        delivery_latitude=data.delivery_latitude,
        delivery_longitude=data.delivery_longitude,
        budget_minor=data.budget_minor,
        currency=data.currency,
        min_credit=data.min_credit,
    )
    session.add(order)
    session.flush()
    for number, line in enumerate(data.lines, start=1):
        session.add(
            OrderLine(
                order_id=id_of(order),
                line_no=number,
                process_code=line.process_code,
                material=line.material,
                quantity=line.quantity,
                hours=line_hours(line),
                hours_per_part=(
                    None if line.hours_per_part is None else Decimal(str(line.hours_per_part))
                ),
                length_mm=line.length_mm,
                width_mm=line.width_mm,
                height_mm=line.height_mm,
                tolerance_class=line.tolerance_class,
                certifications_required=sorted(set(line.certifications_required)),
                splittable=line.splittable,
            )
        )
    if submit:
        open_draft(session, order)
    session.flush()
    return order


def require_quoted_currency(session: Session, currency: str) -> None:
    """An order goes to the market only in a currency some verified factory quotes in:
    in any other, no factory could be offered its work. (A marketplace with no verified
    factory yet refuses nothing: there is nothing to compare with.)"""
    quoted = quoted_currencies(session)
    if quoted and currency not in quoted:
        raise OrderError(
            "currency",
            N_(
                "no verified factory quotes in %(currency)s; the factories here quote in "
                "%(currencies)s",
                currency=currency,
                currencies=", ".join(quoted),
            ),
        )


def lock_orders(session: Session, order_ids: Sequence[int]) -> list[Order]:
    """The orders, locked for this transaction, always in id order (no deadlocks)."""
    if not order_ids:
        return []
    return list(
        session.exec(
            select(Order)
            .where(among(col(Order.id), sorted(set(order_ids))))
            .order_by(col(Order.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    )


def lock_order(session: Session, order: Order) -> Order:
    return lock_orders(session, [id_of(order)])[0]


def touch(order: Order, target: OrderState) -> None:
    """Move the order through the transition table and note when it changed."""
    move(order, target)
    order.updated_at = utcnow()


def buyer_step(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer's own order, locked for one of the buyer's steps."""
    return lock_order(session, access.buyer_order_for(session, principal, order_id))


def submit(session: Session, principal: Principal, order_id: int) -> Order:
    """draft -> open."""
    order = buyer_step(session, principal, order_id)
    open_draft(session, order)
    return order


def open_draft(session: Session, order: Order) -> None:
    """draft -> open, for the (locked) order: submitted, or matched straight away."""
    require_quoted_currency(session, order.currency)
    touch(order, OrderState.OPEN)
    records.order_submitted(session, order, len(lines_of(session, id_of(order))))


def orders_of(
    session: Session, principal: Principal, state: str | None = None, limit: int = 200
) -> list[Order]:
    """The orders the principal may list, newest first."""
    query = access.visible_orders(principal).order_by(col(Order.id).desc()).limit(limit)
    if state:
        query = query.where(Order.state == state)
    return list(session.exec(query).all())


def lines_of(session: Session, order_id: int) -> list[OrderLine]:
    return list(
        session.exec(
            select(OrderLine)
            .where(col(OrderLine.order_id) == order_id)
            .order_by(col(OrderLine.line_no))
        ).all()
    )
