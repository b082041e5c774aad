"""API of the capacity calendar, in Catena-X DCM field names (`capabilityId`,
`pointInTime`, `maximumCapacity`): read it, set cells, fill, copy and close weeks."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from factories.capacity.bulk import close_week, copy_week, fill_capacity
from factories.capacity.calendar import (
    CALENDAR_WEEKS,
    HORIZON_WEEKS,
    capacity_grid,
    set_capacity,
)
from factories.capacity.weeks import parse_week, week_count
from factories.errors import FactoryError
from factories.profile.details import capacity_change
from marketplace import db
from marketplace.accounts.access import login_required, scope_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.api.errors import api_field_names
from marketplace.supply.access import load_factory
from marketplace.supply.blueprints import CAPACITY, SECURITY, api
from marketplace.supply.clock import today_and_now
from marketplace.supply.presenters import grid_out
from marketplace.supply.schemas import CapacityOut, FactoryPath, Hours

# The services' names of the bulk actions' fields, and this API's.
CAPACITY_NAMES = {
    "first_week": "firstWeek",
    "target_weeks": "targetWeeks",
    "resources": "capabilityIds",
}


class CapacityQuery(BaseModel):
    week_from: str | None = Field(default=None, description="ISO week (2026-W48) or a date")
    weeks: int = Field(default=CALENDAR_WEEKS, ge=1, le=HORIZON_WEEKS)


class CapacityCellIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capabilityId: str
    pointInTime: date = Field(description="Monday of the ISO week")
    maximumCapacity: Hours
    actualCapacity: Hours | None = Field(default=None, description="defaults to the maximum")


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacities: list[CapacityCellIn] = Field(min_length=1, max_length=5000)


class FillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: Hours
    firstWeek: str = Field(description="ISO week (2026-W48) or a date in it")
    weeks: int = Field(ge=1, le=HORIZON_WEEKS)
    capabilityIds: list[str] | None = Field(default=None, description="none: all")


class CopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sourceWeek: str
    targetWeeks: list[str] = Field(min_length=1, max_length=HORIZON_WEEKS)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    week: str
    capabilityIds: list[str] | None = None


class ClosedOut(CapacityOut):
    keptBookedHours: float


def _week(value: str, field: str) -> date:
    """An ISO week (`2026-W48`) or a date in it; a FactoryError naming `field` otherwise."""
    try:
        return parse_week(value)
    except ValueError as error:
        raise FactoryError(field, str(error)) from error


@api.get(
    "/factories/<int:factory_id>/capacity",
    tags=[CAPACITY],
    responses={200: CapacityOut},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_capacity(path: FactoryPath, query: CapacityQuery) -> ApiAnswer:
    """Resources x ISO weeks (default: the next 12) with maximum, booked and free hours."""
    factory = load_factory(path.factory_id)
    today, now = today_and_now()
    first = _week(query.week_from, "week_from") if query.week_from else None
    grid = capacity_grid(
        db.session(),
        factory,
        today,
        now,
        weeks=query.weeks,
        first_week=first,
        week_field="week_from",
    )
    return grid_out(factory, grid)


@api.put(
    "/factories/<int:factory_id>/capacity",
    tags=[CAPACITY],
    responses={200: CapacityOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def put_capacity(path: FactoryPath, body: CapacityIn) -> ApiAnswer:
    """Set maximum (and planned) hours of resources in weeks; all of them or none.
    A maximum below the hours already booked is refused, saying by how much."""
    factory = load_factory(path.factory_id, write=True)
    today, now = today_and_now()
    changes = [capacity_change(c, f"capacities[{i}]") for i, c in enumerate(body.capacities)]
    set_capacity(db.session(), factory, changes, today, now)
    first = min(c.pointInTime for c in body.capacities)
    last = max(c.pointInTime for c in body.capacities)
    weeks = week_count(first, last)
    return grid_out(
        factory, capacity_grid(db.session(), factory, today, now, weeks=weeks, first_week=first)
    )


@api.post(
    "/factories/<int:factory_id>/capacity/fill",
    tags=[CAPACITY],
    responses={200: CapacityOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def post_fill(path: FactoryPath, body: FillIn) -> ApiAnswer:
    """The same maximum for each (given) resource in a run of weeks: "40 h for 8 weeks"."""
    factory = load_factory(path.factory_id, write=True)
    today, now = today_and_now()
    with api_field_names(CAPACITY_NAMES):
        first = _week(body.firstWeek, "firstWeek")
        fill_capacity(
            db.session(), factory, body.hours, first, body.weeks, today, now, body.capabilityIds
        )
    return grid_out(
        factory,
        capacity_grid(db.session(), factory, today, now, weeks=body.weeks, first_week=first),
    )


@api.post(
    "/factories/<int:factory_id>/capacity/copy",
    tags=[CAPACITY],
    responses={200: CapacityOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def post_copy(path: FactoryPath, body: CopyIn) -> ApiAnswer:
    """Copy maximum and planned hours of every resource from one week to others."""
    factory = load_factory(path.factory_id, write=True)
    today, now = today_and_now()
    with api_field_names(CAPACITY_NAMES):
        source = _week(body.sourceWeek, "sourceWeek")
        targets = [_week(w, f"targetWeeks[{i}]") for i, w in enumerate(body.targetWeeks)]
        copy_week(db.session(), factory, source, targets, today, now)
    return grid_out(factory, capacity_grid(db.session(), factory, today, now))


@api.post(
    "/factories/<int:factory_id>/capacity/close",
    tags=[CAPACITY],
    responses={200: ClosedOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def post_close(path: FactoryPath, body: CloseIn) -> ApiAnswer:
    """Offer nothing more in a week. Booked hours stay: the maximum drops to them, not
    below; `keptBookedHours` says how many."""
    factory = load_factory(path.factory_id, write=True)
    today, now = today_and_now()
    with api_field_names(CAPACITY_NAMES):
        week = _week(body.week, "week")
        kept = close_week(db.session(), factory, week, today, now, body.capabilityIds)
    out = grid_out(
        factory, capacity_grid(db.session(), factory, today, now, weeks=1, first_week=week)
    )
    return {**out, "keptBookedHours": float(kept)}
