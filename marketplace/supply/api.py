"""Factory side of the REST API: factories, certifications, capabilities, the capacity
calendar (Catena-X DCM names), profile and AAS export/import, verification, search."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from flask import Response, abort, request
from flask_babel import get_locale
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from factories.aas import writer as aas_writer
from factories.capability import (
    CapabilityDetails,
    capabilities_of,
    capability_of,
    check_capability,
    create_capability,
    delete_capability,
    major_units,
    materials_of,
    minor_units,
    update_capability,
)
from factories.capacity.calendar import (
    CALENDAR_WEEKS,
    HORIZON_WEEKS,
    CapacityGrid,
    capacity_grid,
    close_week,
    copy_week,
    fill_capacity,
    is_stale,
    set_capacity,
)
from factories.capacity.weeks import parse_week, week_count, week_label
from factories.certifications import certifications_of, is_valid_on
from factories.errors import FactoryError, Problems
from factories.models import Capability, Certification, Factory, id_of, text_limit, utcnow
from factories.onboarding import (
    CertificationDetails,
    FactoryDetails,
    add_certification,
    factories_of,
    register_factory,
    remove_certification,
    suspend_factory,
    update_factory,
    verify_factory,
)
from factories.profile.details import capacity_change
from factories.profile.reader import import_profile
from factories.profile.schema import (
    HOUR_UNIT,
    MAX_PROFILE_BYTES,
    FactoryProfile,
    profile_json_schema,
)
from factories.profile.writer import export_profile
from factories.search.filters import MAX_PER_PAGE, SearchFilters, check_filters
from factories.search.service import search_factories
from marketplace import db
from marketplace.accounts.access import (
    login_required,
    require_principal,
    roles_required,
    scope_required,
    shared_across_organizations,
)
from marketplace.accounts.models import Role
from marketplace.api.errors import ErrorBody, FieldProblem, error_response
from marketplace.security.limits import takes_files
from marketplace.supply import texts
from marketplace.supply.access import can_edit_profile, load_factory
from marketplace.supply.views import read_profile_file
from marketplace.web import labels

FACTORIES = Tag(name="factories", description="Factories, certifications and capabilities")
CAPACITY = Tag(name="capacity", description="The capacity calendar (Catena-X DCM field names)")
PROFILE = Tag(name="profile", description="Standardized profile and Asset Administration Shell")
SEARCH = Tag(name="search", description="Buyer search over verified factories")
OPERATORS = Tag(name="operators", description="Verification by cluster operators")
SECURITY: list[dict[str, list[str]]] = [{"sessionCookie": []}, {"bearerAuth": []}]

api = APIBlueprint(
    "supply_api",
    __name__,
    url_prefix="/api/v1",
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody},
)


def clock() -> tuple[date, Any]:
    now = utcnow()
    return now.date(), now


def problem_response(error: FactoryError, names: dict[str, str] | None = None) -> Response:
    """A service's FactoryError as a 422 naming each field in the API's terms."""
    problems = [
        FieldProblem(field=(names or {}).get(field, field), message=message)
        for field, message in error.problems
    ]
    summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return error_response(422, "validation_failed", summary, problems)


def require_profile_editor() -> None:
    if not can_edit_profile(require_principal()):
        abort(403, description="only an owner of the factory (a person) may change its profile")


Hours = Annotated[
    Decimal,
    Field(ge=0, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0}),
]


# Models ---------------------------------------------------------------------------------


class FactoryPath(BaseModel):
    factory_id: int


class CertificationPath(BaseModel):
    factory_id: int
    certification_id: int


class CapabilityPath(BaseModel):
    factory_id: int
    capability_id: int


class FactoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=text_limit(Factory, "name"))
    country: str = Field(description="ISO 3166-1 alpha-2", max_length=2)
    region: str = Field(max_length=text_limit(Factory, "region"))
    city: str = Field(default="", max_length=text_limit(Factory, "city"))
    latitude: float
    longitude: float


class CertificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate_type: str = Field(description="taxonomy code, e.g. ISO9001")
    certificate_version: str = Field(
        default="", max_length=text_limit(Certification, "certificate_version")
    )
    registration_number: str = Field(max_length=text_limit(Certification, "registration_number"))
    issuer: str = Field(max_length=text_limit(Certification, "issuer"))
    valid_from: date
    valid_until: date


class RegistrationIn(FactoryIn):
    certifications: list[CertificationIn] = Field(default_factory=list, max_length=50)


class CertificationOut(CertificationIn):
    id: int
    valid_today: bool
    expired: bool


class CapabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    process_code: str
    materials: list[str] = Field(max_length=50)
    tolerance_class: str
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int = 1
    batch_max: int = 1_000_000
    hourly_rate: Decimal = Field(description="per hour, in major units (85.50 EUR)")
    currency: str = Field(default="EUR", max_length=3)


class CapabilityOut(BaseModel):
    id: int
    process_code: str
    labels: dict[str, str]
    materials: list[str]
    tolerance_class: str
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int
    batch_max: int
    hourly_rate: float
    hourly_rate_minor: int
    currency: str


class FactoryOut(BaseModel):
    id: int
    global_id: str
    organization_id: int
    name: str
    country: str
    region: str
    city: str
    latitude: float
    longitude: float
    status: str
    status_reason: str
    credit_score: float
    capacity_updated_at: str | None
    capacity_stale: bool
    certifications: list[CertificationOut]
    capabilities: list[CapabilityOut]


class FactoryList(BaseModel):
    factories: list[FactoryOut]


class CapabilityList(BaseModel):
    capabilities: list[CapabilityOut]


class CapacityQuery(BaseModel):
    week_from: str | None = Field(default=None, description="ISO week (2026-W48) or a date")
    weeks: int = Field(default=CALENDAR_WEEKS, ge=1, le=HORIZON_WEEKS)


class CapacityCellOut(BaseModel):
    capabilityId: str
    pointInTime: date
    week: str
    actualCapacity: Hours
    maximumCapacity: Hours
    bookedCapacity: Hours
    freeCapacity: Hours


class CapacityOut(BaseModel):
    unitOfMeasure: str = HOUR_UNIT
    updatedAt: str | None
    stale: bool
    capabilityIds: list[str]
    weeks: list[str]
    capacities: list[CapacityCellOut]


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


class AasQuery(BaseModel):
    format: Literal["json", "xml"] = "json"


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=text_limit(Factory, "status_reason"))


class SearchQuery(BaseModel):
    process: str | None = Field(default=None, description="process code; specializations count")
    material: str | None = None
    certification: str | None = Field(default=None, description="valid today")
    min_length_mm: int | None = Field(default=None, ge=1)
    min_width_mm: int | None = Field(default=None, ge=1)
    min_height_mm: int | None = Field(default=None, ge=1)
    tolerance_class: str | None = None
    region: str | None = None
    country: str | None = Field(default=None, max_length=2)
    week_from: str | None = Field(default=None, description="ISO week (2026-W48) or a date")
    week_to: str | None = None
    min_free_hours: Decimal | None = Field(default=None, ge=0, description="in the week window")
    min_credit: float | None = Field(default=None, ge=0, le=1)
    near_latitude: float | None = Field(default=None, ge=-90, le=90)
    near_longitude: float | None = Field(default=None, ge=-180, le=180)
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)


class ReasonOut(BaseModel):
    kind: str
    text: str
    data: dict[str, Any]


class SearchResultOut(BaseModel):
    factory_id: int
    global_id: str
    name: str
    country: str
    region: str
    city: str
    latitude: float
    longitude: float
    credit_score: float
    processes: list[str]
    free_hours: float
    hourly_rate: float
    currency: str
    distance_km: float | None
    score: float
    score_parts: dict[str, float]
    reasons: list[ReasonOut]


class SearchPageOut(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    week_from: str
    week_to: str
    results: list[SearchResultOut]


# Serialization --------------------------------------------------------------------------


def certification_out(c: Certification, today: date) -> CertificationOut:
    return CertificationOut(
        id=id_of(c),
        certificate_type=c.certificate_type,
        certificate_version=c.certificate_version,
        registration_number=c.registration_number,
        issuer=c.issuer,
        valid_from=c.valid_from,
        valid_until=c.valid_until,
        valid_today=is_valid_on(c, today),
        expired=c.valid_until < today,
    )


def capability_out(c: Capability, materials: list[str]) -> CapabilityOut:
    return CapabilityOut(
        id=id_of(c),
        process_code=c.process_code,
        labels={
            "en": labels.process_label(c.process_code, "en"),
            "zh": labels.process_label(c.process_code, "zh"),
        },
        materials=materials,
        tolerance_class=c.tolerance_class,
        max_length_mm=c.max_length_mm,
        max_width_mm=c.max_width_mm,
        max_height_mm=c.max_height_mm,
        batch_min=c.batch_min,
        batch_max=c.batch_max,
        hourly_rate=float(major_units(c.hourly_rate_minor, c.currency)),
        hourly_rate_minor=c.hourly_rate_minor,
        currency=c.currency,
    )


def factory_out(factory: Factory) -> dict[str, Any]:
    session = db.session()
    today, now = clock()
    return FactoryOut(
        id=id_of(factory),
        global_id=factory.global_id,
        organization_id=factory.organization_id,
        name=factory.name,
        country=factory.country,
        region=factory.region,
        city=factory.city,
        latitude=factory.latitude,
        longitude=factory.longitude,
        status=factory.status,
        status_reason=factory.status_reason,
        credit_score=factory.credit_score,
        capacity_updated_at=factory.capacity_updated_at.isoformat()
        if factory.capacity_updated_at
        else None,
        capacity_stale=is_stale(factory, now),
        certifications=[
            certification_out(c, today) for c in certifications_of(session, id_of(factory))
        ],
        capabilities=[
            capability_out(v.capability, v.materials)
            for v in capabilities_of(session, id_of(factory))
        ],
    ).model_dump(mode="json")


def grid_out(factory: Factory, grid: CapacityGrid) -> dict[str, Any]:
    cells = []
    for resource in grid.resources:
        for week in grid.weeks:
            cell = grid.cell(resource, week)
            cells.append(
                CapacityCellOut(
                    capabilityId=resource,
                    pointInTime=week,
                    week=week_label(week),
                    actualCapacity=cell.actual_hours,
                    maximumCapacity=cell.maximum_hours,
                    bookedCapacity=cell.booked_hours,
                    freeCapacity=cell.free_hours,
                )
            )
    return CapacityOut(
        updatedAt=factory.capacity_updated_at.isoformat() if factory.capacity_updated_at else None,
        stale=grid.stale,
        capabilityIds=grid.resources,
        weeks=[week_label(w) for w in grid.weeks],
        capacities=cells,
    ).model_dump(mode="json")


def _certification(body: CertificationIn) -> CertificationDetails:
    return CertificationDetails(
        certificate_type=body.certificate_type,
        certificate_version=body.certificate_version,
        registration_number=body.registration_number,
        issuer=body.issuer,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )


def _details(body: FactoryIn) -> FactoryDetails:
    return FactoryDetails(
        name=body.name,
        country=body.country,
        region=body.region,
        city=body.city,
        latitude=body.latitude,
        longitude=body.longitude,
    )


# The profile's schema ----------------------------------------------------------------------


@api.get(
    "/schemas/factory-profile.json",
    tags=[PROFILE],
    responses={
        200: {
            "description": "JSON Schema (draft 2020-12) of the factory profile",
            "content": {"application/schema+json": {"schema": {"type": "object"}}},
        }
    },
)
@shared_across_organizations()
def get_profile_schema():
    """JSON Schema of the standardized factory profile, generated from the code."""
    response = Response(
        json.dumps(profile_json_schema(), indent=2),
        mimetype="application/schema+json",
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# Factories ------------------------------------------------------------------------------


@api.post("/factories", tags=[FACTORIES], responses={201: FactoryOut}, security=SECURITY)
@roles_required(Role.FACTORY_OWNER)
def post_factory(body: RegistrationIn):
    """Register a factory of the caller's organization; it starts `pending`."""
    require_profile_editor()
    principal = require_principal()
    try:
        factory = register_factory(
            db.session(),
            principal.organization_id,
            _details(body),
            [_certification(c) for c in body.certifications],
        )
    except FactoryError as error:
        return problem_response(error)
    return factory_out(factory), 201


@api.get("/factories/mine", tags=[FACTORIES], responses={200: FactoryList}, security=SECURITY)
@login_required
def get_my_factories():
    """The factories of the caller's organization."""
    principal = require_principal()
    if not principal.is_factory:
        return FactoryList(factories=[]).model_dump()
    return {
        "factories": [factory_out(f) for f in factories_of(db.session(), principal.organization_id)]
    }


@api.get(
    "/factories/<int:factory_id>", tags=[FACTORIES], responses={200: FactoryOut}, security=SECURITY
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_factory(path: FactoryPath):
    """A factory of the caller's organization (operators: any), with status, certifications
    (flagged when expired) and capabilities."""
    return factory_out(load_factory(path.factory_id))


@api.put(
    "/factories/<int:factory_id>", tags=[FACTORIES], responses={200: FactoryOut}, security=SECURITY
)
@roles_required(Role.FACTORY_OWNER)
def put_factory(path: FactoryPath, body: FactoryIn):
    """Change name and location."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    try:
        update_factory(db.session(), factory, _details(body))
    except FactoryError as error:
        return problem_response(error)
    return factory_out(factory)


@api.post(
    "/factories/<int:factory_id>/certifications",
    tags=[FACTORIES],
    responses={201: CertificationOut},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def post_certification(path: FactoryPath, body: CertificationIn):
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    try:
        certification = add_certification(db.session(), factory, _certification(body))
    except FactoryError as error:
        return problem_response(error)
    return certification_out(certification, clock()[0]).model_dump(mode="json"), 201


@api.delete(
    "/factories/<int:factory_id>/certifications/<int:certification_id>",
    tags=[FACTORIES],
    responses={204: None},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def delete_certification(path: CertificationPath):
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    try:
        remove_certification(db.session(), factory, path.certification_id)
    except FactoryError:
        abort(404)
    return "", 204


# Capabilities ---------------------------------------------------------------------------


def _capability(body: CapabilityIn) -> CapabilityDetails:
    """Our details from the request; a rate the currency cannot hold is reported together
    with every other problem of the capability."""
    try:
        rate = minor_units(body.hourly_rate, body.currency.strip().upper())
        rate_problem = None
    except ValueError as error:
        rate, rate_problem = 0, ("hourly_rate", str(error))
    details = CapabilityDetails(
        process_code=body.process_code,
        materials=tuple(body.materials),
        tolerance_class=body.tolerance_class,
        max_length_mm=body.max_length_mm,
        max_width_mm=body.max_width_mm,
        max_height_mm=body.max_height_mm,
        batch_min=body.batch_min,
        batch_max=body.batch_max,
        hourly_rate_minor=rate,
        currency=body.currency,
    )
    if rate_problem is not None:
        others = [p for p in check_capability(details.normalized()).items if p[0] != "hourly_rate"]
        raise FactoryError(*rate_problem, [rate_problem, *others])
    return details


def _load_capability(path: CapabilityPath, *, write: bool) -> tuple[Factory, Capability]:
    factory = load_factory(path.factory_id, write=write)
    capability = capability_of(db.session(), factory, path.capability_id)
    if capability is None:
        abort(404)
    return factory, capability


@api.get(
    "/factories/<int:factory_id>/capabilities",
    tags=[FACTORIES],
    responses={200: CapabilityList},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_capabilities(path: FactoryPath):
    factory = load_factory(path.factory_id)
    return {
        "capabilities": [
            capability_out(v.capability, v.materials).model_dump()
            for v in capabilities_of(db.session(), id_of(factory))
        ]
    }


@api.post(
    "/factories/<int:factory_id>/capabilities",
    tags=[FACTORIES],
    responses={201: CapabilityOut},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def post_capability(path: FactoryPath, body: CapabilityIn):
    """Add a capability: process from the taxonomy, materials it can work, envelope,
    tolerance, batch limits, hourly rate. All fields are checked before anything is saved."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    try:
        capability = create_capability(db.session(), factory, _capability(body))
    except FactoryError as error:
        return problem_response(error)
    materials = materials_of(db.session(), id_of(capability))
    return capability_out(capability, materials).model_dump(), 201


@api.get(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>",
    tags=[FACTORIES],
    responses={200: CapabilityOut},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_capability(path: CapabilityPath):
    _, capability = _load_capability(path, write=False)
    return capability_out(capability, materials_of(db.session(), id_of(capability))).model_dump()


@api.put(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>",
    tags=[FACTORIES],
    responses={200: CapabilityOut},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def put_capability(path: CapabilityPath, body: CapabilityIn):
    _, capability = _load_capability(path, write=True)
    require_profile_editor()
    try:
        update_capability(db.session(), capability, _capability(body))
    except FactoryError as error:
        return problem_response(error)
    return capability_out(capability, materials_of(db.session(), id_of(capability))).model_dump()


@api.delete(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>",
    tags=[FACTORIES],
    responses={204: None},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def delete_capability_api(path: CapabilityPath):
    _, capability = _load_capability(path, write=True)
    require_profile_editor()
    try:
        delete_capability(db.session(), capability, clock()[0])
    except FactoryError as error:
        return problem_response(error)
    return "", 204


# Capacity -------------------------------------------------------------------------------

CAPACITY_NAMES = {
    "first_week": "firstWeek",
    "target_weeks": "targetWeeks",
    "resources": "capabilityIds",
}


def _week(value: str, field: str) -> date:
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
def get_capacity(path: FactoryPath, query: CapacityQuery):
    """Resources x ISO weeks (default: the next 12) with maximum, booked and free hours."""
    factory = load_factory(path.factory_id)
    today, now = clock()
    try:
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
    except FactoryError as error:
        return problem_response(error)
    return grid_out(factory, grid)


@api.put(
    "/factories/<int:factory_id>/capacity",
    tags=[CAPACITY],
    responses={200: CapacityOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def put_capacity(path: FactoryPath, body: CapacityIn):
    """Set maximum (and planned) hours of resources in weeks; all of them or none.
    A maximum below the hours already booked is refused, saying by how much."""
    factory = load_factory(path.factory_id, write=True)
    today, now = clock()
    changes = [capacity_change(c, f"capacities[{i}]") for i, c in enumerate(body.capacities)]
    try:
        set_capacity(db.session(), factory, changes, today, now)
    except FactoryError as error:
        return problem_response(error)
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
def post_fill(path: FactoryPath, body: FillIn):
    """The same maximum for each (given) resource in a run of weeks: "40 h for 8 weeks"."""
    factory = load_factory(path.factory_id, write=True)
    today, now = clock()
    try:
        first = _week(body.firstWeek, "firstWeek")
        fill_capacity(
            db.session(), factory, body.hours, first, body.weeks, today, now, body.capabilityIds
        )
    except FactoryError as error:
        return problem_response(error, CAPACITY_NAMES)
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
def post_copy(path: FactoryPath, body: CopyIn):
    """Copy maximum and planned hours of every resource from one week to others."""
    factory = load_factory(path.factory_id, write=True)
    today, now = clock()
    try:
        source = _week(body.sourceWeek, "sourceWeek")
        targets = [_week(w, f"targetWeeks[{i}]") for i, w in enumerate(body.targetWeeks)]
        copy_week(db.session(), factory, source, targets, today, now)
    except FactoryError as error:
        return problem_response(error, CAPACITY_NAMES)
    return grid_out(factory, capacity_grid(db.session(), factory, today, now))


@api.post(
    "/factories/<int:factory_id>/capacity/close",
    tags=[CAPACITY],
    responses={200: ClosedOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def post_close(path: FactoryPath, body: CloseIn):
    """Offer nothing more in a week. Booked hours stay: the maximum drops to them, not
    below; `keptBookedHours` says how many."""
    factory = load_factory(path.factory_id, write=True)
    today, now = clock()
    try:
        week = _week(body.week, "week")
        kept = close_week(db.session(), factory, week, today, now, body.capabilityIds)
    except FactoryError as error:
        return problem_response(error, CAPACITY_NAMES)
    out = grid_out(
        factory, capacity_grid(db.session(), factory, today, now, weeks=1, first_week=week)
    )
    return {**out, "keptBookedHours": float(kept)}


# Profile and AAS ------------------------------------------------------------------------


@api.get(
    "/factories/<int:factory_id>/profile",
    tags=[PROFILE],
    responses={200: FactoryProfile},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_profile(path: FactoryPath):
    """The factory in the standardized profile (see /api/v1/schemas/factory-profile.json)."""
    factory = load_factory(path.factory_id)
    return export_profile(db.session(), factory).model_dump(mode="json")


@api.put(
    "/factories/<int:factory_id>/profile",
    tags=[PROFILE],
    responses={200: FactoryProfile},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
@takes_files(1, lambda: MAX_PROFILE_BYTES)
def put_profile(path: FactoryPath, body: FactoryProfile):
    """Import a profile into this factory: name, location, certifications, capabilities
    and maximum/planned hours. Status, credit and booked hours stay the marketplace's."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    today, now = clock()
    try:
        import_profile(db.session(), body, factory.organization_id, today, now, into=factory)
    except FactoryError as error:
        return problem_response(error)
    return export_profile(db.session(), factory).model_dump(mode="json")


@api.get(
    "/factories/<int:factory_id>/aas",
    tags=[PROFILE],
    responses={200: None},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_aas(path: FactoryPath, query: AasQuery):
    """The factory as an Asset Administration Shell environment (AAS JSON or XML)."""
    factory = load_factory(path.factory_id)
    fmt = f"aas-{query.format}"
    body = aas_writer.write(export_profile(db.session(), factory), fmt)
    return Response(
        body,
        mimetype="application/json" if query.format == "json" else "application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="factory-{factory.id}-aas.{query.format}"'
        },
    )


@api.post(
    "/factories/<int:factory_id>/aas",
    tags=[PROFILE],
    responses={200: FactoryProfile},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
@takes_files(1, lambda: MAX_PROFILE_BYTES)
def post_aas(path: FactoryPath):
    """Import an AAS environment (JSON or XML body) or a profile into this factory."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    today, now = clock()
    try:
        profile = read_profile_file(request.get_data())
        import_profile(db.session(), profile, factory.organization_id, today, now, into=factory)
    except FactoryError as error:
        return problem_response(error)
    return export_profile(db.session(), factory).model_dump(mode="json")


# Operators ------------------------------------------------------------------------------


@api.post(
    "/factories/<int:factory_id>/verify",
    tags=[OPERATORS],
    responses={200: FactoryOut},
    security=SECURITY,
)
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def post_verify(path: FactoryPath):
    factory = load_factory(path.factory_id)
    verify_factory(db.session(), factory, clock()[1])
    return factory_out(factory)


@api.post(
    "/factories/<int:factory_id>/suspend",
    tags=[OPERATORS],
    responses={200: FactoryOut},
    security=SECURITY,
)
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def post_suspend(path: FactoryPath, body: SuspendIn):
    factory = load_factory(path.factory_id)
    try:
        suspend_factory(db.session(), factory, body.reason)
    except FactoryError as error:
        return problem_response(error)
    return factory_out(factory)


# Search ---------------------------------------------------------------------------------


@api.get("/factories", tags=[SEARCH], responses={200: SearchPageOut}, security=SECURITY)
@login_required
def get_factories(query: SearchQuery):
    """Verified factories matching every filter, best fit first, with the reasons each
    one matches. Free hours are summed over the week window (default: 4 weeks from now)."""
    today, _now = clock()
    weeks: dict[str, date | None] = {}
    problems = Problems()
    for name in ("week_from", "week_to"):
        value = getattr(query, name)
        try:
            weeks[name] = parse_week(value) if value else None
        except ValueError as error:
            problems.add(name, str(error))
            weeks[name] = None
    try:
        filters = SearchFilters(
            process=query.process,
            material=query.material,
            certification=query.certification,
            min_length_mm=query.min_length_mm,
            min_width_mm=query.min_width_mm,
            min_height_mm=query.min_height_mm,
            tolerance_class=query.tolerance_class,
            region=query.region,
            country=query.country,
            week_from=weeks["week_from"],
            week_to=weeks["week_to"],
            min_free_hours=query.min_free_hours,
            min_credit=query.min_credit,
            near_latitude=query.near_latitude,
            near_longitude=query.near_longitude,
            page=query.page,
            per_page=query.per_page,
        )
        problems.extend(check_filters(filters, today))
        problems.raise_if_any()
        page = search_factories(db.session(), filters, today)
    except FactoryError as error:
        return problem_response(error)
    locale = str(get_locale())
    return SearchPageOut(
        total=page.total,
        page=page.page,
        per_page=page.per_page,
        pages=page.pages,
        week_from=week_label(page.week_from),
        week_to=week_label(page.week_to),
        results=[
            SearchResultOut(
                factory_id=r.factory_id,
                global_id=r.global_id,
                name=r.name,
                country=r.country,
                region=r.region,
                city=r.city,
                latitude=r.latitude,
                longitude=r.longitude,
                credit_score=r.credit_score,
                processes=r.processes,
                free_hours=float(r.free_hours),
                hourly_rate=float(major_units(r.hourly_rate_minor, r.currency)),
                currency=r.currency,
                distance_km=r.distance_km,
                score=r.score,
                score_parts=r.score_parts,
                reasons=[
                    ReasonOut(
                        kind=reason.kind,
                        text=texts.reason_text(reason, locale),
                        data=_plain(reason.data),
                    )
                    for reason in r.reasons
                ],
            )
            for r in page.results
        ],
    ).model_dump(mode="json")


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {k: plain(v) for k, v in data.items()}
