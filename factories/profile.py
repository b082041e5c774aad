"""The standardized factory profile (specs/factory-profile-v1.md): export and import.

Field names are Catena-X's where one exists (capabilityId, capabilityLabel, pointInTime,
actualCapacity, maximumCapacity, unitOfMeasure, price.{value, currency, unitForPrice},
certificateType ...) and ours elsewhere (bookedCapacity, status, credit). The JSON
Schema published at /api/v1/schemas/factory-profile.json is generated from the
pydantic models below, so the document and the code cannot disagree.

Export then import is lossless: `export_profile(import_profile(p))` equals `p` in its
canonical order (lists sorted as export writes them). Import has two modes:

- an owner's import (`restore=False`) changes what the owner controls: name, location,
  certifications, capabilities (those missing from the file are removed, unless work is
  booked on them) and maximum/planned hours of the weeks it lists; status, credit and
  booked hours stay the marketplace's, and past weeks cannot be rewritten;
- a restore (`restore=True`, the operator's command line) takes everything from the
  file, including status, credit, booked hours and past weeks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from sqlmodel import Session, select

from factories.capability import (
    CapabilityDetails,
    booked_hours_ahead,
    capabilities_of,
    check_capability,
    create_capability,
    delete_capability,
    major_units,
    minor_units,
    update_capability,
)
from factories.capacity import (
    MAX_WEEK_HOURS,
    CapacityChange,
    monday_of,
    set_capacity,
    week_label,
)
from factories.certifications import certifications_of
from factories.errors import N_, FactoryError, Problems
from factories.models import (
    Capability,
    CapacityBucket,
    Certification,
    Factory,
    FactoryStatus,
)
from factories.onboarding import (
    CertificationDetails,
    FactoryDetails,
    check_certification,
    check_factory_details,
)
from factories.taxonomy import PROCESSES

PROFILE_VERSION = "1"
SCHEMA_ID = "https://factoryweb.example/api/v1/schemas/factory-profile.json"
HOUR_UNIT = "unit:hourUnitOfTime"
MILLIMETRE = "unit:millimetre"
PIECE = "unit:piece"
# The part envelope: one Range property per axis (IDTA PropertySet / CX properties).
ENVELOPE_PROPERTIES: dict[str, tuple[str, dict[str, str]]] = {
    "workpieceLength": ("max_length_mm", {"en": "Maximum workpiece length", "zh": "最大工件长度"}),
    "workpieceWidth": ("max_width_mm", {"en": "Maximum workpiece width", "zh": "最大工件宽度"}),
    "workpieceHeight": ("max_height_mm", {"en": "Maximum workpiece height", "zh": "最大工件高度"}),
}
BATCH_CONSTRAINT = "batchSize"

Hours = Annotated[
    Decimal,
    Field(ge=0, le=MAX_WEEK_HOURS, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "maximum": float(MAX_WEEK_HOURS),
            "description": "hours, at most two decimal places",
        }
    ),
]
Amount = Annotated[
    Decimal,
    Field(ge=0),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0}),
]
LocalizedText = dict[str, str]


class _Strict(BaseModel):
    # Unknown fields are refused with their name, never silently dropped.
    model_config = ConfigDict(extra="forbid")


class Location(_Strict):
    country: str = Field(description="ISO 3166-1 alpha-2", min_length=2, max_length=2)
    region: str = Field(min_length=1, max_length=80)
    city: str = Field(default="", max_length=120)
    latitude: float = Field(ge=-90, le=90, description="WGS 84 degrees")
    longitude: float = Field(ge=-180, le=180, description="WGS 84 degrees")


class CertificationEntry(_Strict):
    """CX business_partner_certificate; IDTA 02068 Certification."""

    certificateType: str = Field(description="taxonomy code, e.g. ISO9001")
    certificateVersion: str = Field(default="", max_length=32)
    registrationNumber: str = Field(min_length=1, max_length=80)
    issuer: str = Field(min_length=1, max_length=200)
    validFrom: date
    validUntil: date


class RangeProperty(_Strict):
    """A property with a range (IDTA 02020 PropertyRange; CX capability properties)."""

    propertyId: str = Field(description="workpieceLength, workpieceWidth or workpieceHeight")
    propertyLabel: LocalizedText = Field(default_factory=dict)
    minValue: int | None = None
    maxValue: int = Field(ge=1)
    unit: Literal["unit:millimetre"] = MILLIMETRE


class Constraint(_Strict):
    """A condition on using the capability (IDTA 02020 ConstraintSet)."""

    constraintId: str = Field(description="batchSize")
    minValue: int = Field(ge=1)
    maxValue: int = Field(ge=1)
    unit: Literal["unit:piece"] = PIECE


class MaterialEntry(_Strict):
    materialFamily: str = Field(description="taxonomy material code")


class Price(_Strict):
    """CX market_place_offer price: the hourly rate."""

    value: Amount
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217")
    unitForPrice: Literal["unit:hourUnitOfTime"] = HOUR_UNIT


class CapabilityEntry(_Strict):
    capabilityId: str = Field(description="process code of the taxonomy")
    capabilityLabel: LocalizedText = Field(
        default_factory=dict, description="from the taxonomy; ignored on import"
    )
    processClass: str = Field(default="", description="DIN 8580 main group IRI (from taxonomy)")
    generalizes: list[str] = Field(
        default_factory=list, description="broader process codes (from taxonomy)"
    )
    properties: list[RangeProperty]
    materials: list[MaterialEntry]
    generalTolerance: str = Field(description="ISO 2768 general tolerance class")
    constraints: list[Constraint]
    price: Price


class CapacityEntry(_Strict):
    """One resource in one ISO week (CX DCM week_based_capacity_group)."""

    capabilityId: str
    pointInTime: date = Field(description="Monday of the ISO week")
    actualCapacity: Hours
    maximumCapacity: Hours
    bookedCapacity: Hours = Decimal(0)


class CapacityBlock(_Strict):
    unitOfMeasure: Literal["unit:hourUnitOfTime"] = HOUR_UNIT
    updatedAt: AwareDatetime | None = Field(
        default=None, description="when the factory last changed its capacity"
    )
    capacities: list[CapacityEntry] = Field(default_factory=list)


class Credit(_Strict):
    score: float = Field(ge=0, le=1)


class FactoryProfile(_Strict):
    """What a factory can make and how many hours it has free: FactoryWeb profile v1."""

    model_config = ConfigDict(extra="forbid", title="FactoryProfile")

    profileVersion: Literal["1"] = PROFILE_VERSION
    factoryId: str = Field(
        pattern=r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$",
        max_length=80,
        description="global id, urn:factoryweb:factory:<uuid> (AAS globalAssetId)",
    )
    name: str = Field(min_length=1, max_length=200)
    status: Literal["pending", "verified", "suspended"] = "pending"
    statusReason: str = Field(default="", max_length=500)
    location: Location
    certifications: list[CertificationEntry] = Field(default_factory=list)
    capabilities: list[CapabilityEntry] = Field(default_factory=list)
    capacity: CapacityBlock = Field(default_factory=CapacityBlock)
    credit: Credit | None = None


def profile_json_schema() -> dict[str, Any]:
    schema = FactoryProfile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


# Export --------------------------------------------------------------------------------


def process_labels(code: str) -> LocalizedText:
    process = PROCESSES.get(code)
    return {"en": process.en, "zh": process.zh} if process else {}


def capability_entry(capability: Capability, materials: list[str]) -> CapabilityEntry:
    process = PROCESSES.get(capability.process_code)
    return CapabilityEntry(
        capabilityId=capability.process_code,
        capabilityLabel=process_labels(capability.process_code),
        processClass=process.group.iri if process else "",
        generalizes=list(process.generalizes) if process else [],
        properties=[
            RangeProperty(
                propertyId=property_id,
                propertyLabel=dict(label),
                maxValue=getattr(capability, column),
            )
            for property_id, (column, label) in ENVELOPE_PROPERTIES.items()
        ],
        materials=[MaterialEntry(materialFamily=m) for m in sorted(materials)],
        generalTolerance=capability.tolerance_class,
        constraints=[
            Constraint(
                constraintId=BATCH_CONSTRAINT,
                minValue=capability.batch_min,
                maxValue=capability.batch_max,
            )
        ],
        price=Price(
            value=major_units(capability.hourly_rate_minor, capability.currency),
            currency=capability.currency,
        ),
    )


def certification_entry(certification: Certification) -> CertificationEntry:
    return CertificationEntry(
        certificateType=certification.certificate_type,
        certificateVersion=certification.certificate_version,
        registrationNumber=certification.registration_number,
        issuer=certification.issuer,
        validFrom=certification.valid_from,
        validUntil=certification.valid_until,
    )


def _certification_order(entry: CertificationEntry) -> tuple:
    return (
        entry.certificateType,
        entry.validFrom,
        entry.validUntil,
        entry.registrationNumber,
        entry.issuer,
        entry.certificateVersion,
    )


def export_profile(session: Session, factory: Factory) -> FactoryProfile:
    certifications = sorted(
        (certification_entry(c) for c in certifications_of(session, factory.id)),
        key=_certification_order,
    )
    views = capabilities_of(session, factory.id)
    capabilities = [capability_entry(v.capability, v.materials) for v in views]
    # Calendars of removed capabilities stay as history but are no longer offered.
    buckets = session.exec(
        select(CapacityBucket)
        .where(
            CapacityBucket.factory_id == factory.id,
            CapacityBucket.resource.in_([v.capability.process_code for v in views]),
        )
        .order_by(CapacityBucket.resource, CapacityBucket.point_in_time)
    ).all()
    return FactoryProfile(
        factoryId=factory.global_id,
        name=factory.name,
        status=factory.status,
        statusReason=factory.status_reason,
        location=Location(
            country=factory.country,
            region=factory.region,
            city=factory.city,
            latitude=factory.latitude,
            longitude=factory.longitude,
        ),
        certifications=certifications,
        capabilities=capabilities,
        capacity=CapacityBlock(
            updatedAt=factory.capacity_updated_at,
            capacities=[
                CapacityEntry(
                    capabilityId=b.resource,
                    pointInTime=b.point_in_time,
                    actualCapacity=Decimal(b.actual_hours).quantize(Decimal("0.01")),
                    maximumCapacity=Decimal(b.maximum_hours).quantize(Decimal("0.01")),
                    bookedCapacity=Decimal(b.booked_hours).quantize(Decimal("0.01")),
                )
                for b in buckets
            ],
        ),
        credit=Credit(score=factory.credit_score),
    )


def canonical(profile: FactoryProfile) -> FactoryProfile:
    """The profile in the order export writes it, with the derived fields filled in."""
    capabilities = []
    for entry in sorted(profile.capabilities, key=lambda c: c.capabilityId):
        process = PROCESSES.get(entry.capabilityId)
        properties = sorted(
            (
                p.model_copy(update={"propertyLabel": dict(ENVELOPE_PROPERTIES[p.propertyId][1])})
                if p.propertyId in ENVELOPE_PROPERTIES
                else p
                for p in entry.properties
            ),
            key=lambda p: (
                list(ENVELOPE_PROPERTIES).index(p.propertyId)
                if p.propertyId in ENVELOPE_PROPERTIES
                else len(ENVELOPE_PROPERTIES)
            ),
        )
        capabilities.append(
            entry.model_copy(
                update={
                    "capabilityLabel": process_labels(entry.capabilityId),
                    "processClass": process.group.iri if process else "",
                    "generalizes": list(process.generalizes) if process else [],
                    "properties": properties,
                    "materials": sorted(
                        {m.materialFamily: m for m in entry.materials}.values(),
                        key=lambda m: m.materialFamily,
                    ),
                }
            )
        )
    return profile.model_copy(
        update={
            "certifications": sorted(profile.certifications, key=_certification_order),
            "capabilities": capabilities,
            "capacity": profile.capacity.model_copy(
                update={
                    "capacities": sorted(
                        profile.capacity.capacities, key=lambda c: (c.capabilityId, c.pointInTime)
                    )
                }
            ),
        }
    )


# Import --------------------------------------------------------------------------------


def _capability_details(
    entry: CapabilityEntry, prefix: str, problems: Problems
) -> tuple[CapabilityDetails | None, dict[str, str]]:
    """The profile's capability as our details, and our field names in the profile's terms."""
    names = {
        "process_code": f"{prefix}.capabilityId",
        "materials": f"{prefix}.materials",
        "tolerance_class": f"{prefix}.generalTolerance",
        "batch_min": f"{prefix}.constraints[{BATCH_CONSTRAINT}].minValue",
        "batch_max": f"{prefix}.constraints[{BATCH_CONSTRAINT}].maxValue",
        "hourly_rate": f"{prefix}.price.value",
        "currency": f"{prefix}.price.currency",
    }
    envelope: dict[str, int] = {}
    for i, prop in enumerate(entry.properties):
        known = ENVELOPE_PROPERTIES.get(prop.propertyId)
        if known is None:
            problems.add(
                f"{prefix}.properties[{i}].propertyId",
                N_(
                    "unknown property; expected one of %(known)s",
                    known=", ".join(ENVELOPE_PROPERTIES),
                ),
            )
            continue
        column = known[0]
        if column in envelope:
            problems.add(f"{prefix}.properties[{i}].propertyId", N_("is given twice"))
        if prop.minValue is not None:
            problems.add(
                f"{prefix}.properties[{i}].minValue",
                N_("the part envelope has no minimum; leave it out"),
            )
        envelope[column] = prop.maxValue
        names[column] = f"{prefix}.properties[{i}].maxValue"
    for property_id, (column, _) in ENVELOPE_PROPERTIES.items():
        if column not in envelope:
            problems.add(f"{prefix}.properties", N_("%(name)s is missing", name=property_id))
    batch: tuple[int, int] | None = None
    for i, constraint in enumerate(entry.constraints):
        if constraint.constraintId != BATCH_CONSTRAINT:
            problems.add(
                f"{prefix}.constraints[{i}].constraintId",
                N_("unknown constraint; expected %(name)s", name=BATCH_CONSTRAINT),
            )
        elif batch is not None:
            problems.add(f"{prefix}.constraints[{i}].constraintId", N_("is given twice"))
        else:
            batch = (constraint.minValue, constraint.maxValue)
            names["batch_min"] = f"{prefix}.constraints[{i}].minValue"
            names["batch_max"] = f"{prefix}.constraints[{i}].maxValue"
    if batch is None:
        problems.add(f"{prefix}.constraints", N_("%(name)s is missing", name=BATCH_CONSTRAINT))
    try:
        rate = minor_units(entry.price.value, entry.price.currency)
    except ValueError as error:
        problems.add(names["hourly_rate"], error.args[0] if error.args else str(error))
        rate = None
    if len(envelope) < len(ENVELOPE_PROPERTIES) or batch is None or rate is None:
        return None, names
    materials = [m.materialFamily for m in entry.materials]
    if len(set(materials)) != len(materials):
        problems.add(names["materials"], N_("a material is given twice"))
    return (
        CapabilityDetails(
            process_code=entry.capabilityId,
            materials=tuple(materials),
            tolerance_class=entry.generalTolerance,
            batch_min=batch[0],
            batch_max=batch[1],
            hourly_rate_minor=rate,
            currency=entry.price.currency,
            **envelope,
        ),
        names,
    )


def _certification_details(entry: CertificationEntry) -> CertificationDetails:
    return CertificationDetails(
        certificate_type=entry.certificateType,
        certificate_version=entry.certificateVersion,
        registration_number=entry.registrationNumber,
        issuer=entry.issuer,
        valid_from=entry.validFrom,
        valid_until=entry.validUntil,
    )


CERTIFICATION_NAMES = {
    "certificate_type": "certificateType",
    "certificate_version": "certificateVersion",
    "registration_number": "registrationNumber",
    "issuer": "issuer",
    "valid_from": "validFrom",
    "valid_until": "validUntil",
}
LOCATION_NAMES = {
    "country": "location.country",
    "region": "location.region",
    "city": "location.city",
    "latitude": "location.latitude",
    "longitude": "location.longitude",
}


def import_profile(
    session: Session,
    profile: FactoryProfile,
    organization_id: int | None,
    today: date,
    now: datetime,
    *,
    restore: bool = False,
    into: Factory | None = None,
) -> Factory:
    """Create or update the factory the profile describes; all of it or nothing.

    `organization_id` owns a factory created here; an existing factory (same factoryId)
    must belong to it, unless restoring with organization_id None. `into` pins the
    factory the profile must describe (an owner importing into their factory).
    """
    problems = Problems()
    existing = session.exec(select(Factory).where(Factory.global_id == profile.factoryId)).first()
    if into is not None and profile.factoryId != into.global_id:
        problems.add("factoryId", N_("does not match the factory being imported into"))
    if (
        existing is not None
        and organization_id is not None
        and existing.organization_id != organization_id
    ):
        problems.add("factoryId", N_("is already registered by another organization"))
    if existing is None and organization_id is None:
        problems.add("factoryId", N_("no such factory here; say which organization gets it"))

    details = FactoryDetails(
        name=profile.name,
        country=profile.location.country,
        region=profile.location.region,
        city=profile.location.city,
        latitude=profile.location.latitude,
        longitude=profile.location.longitude,
    )
    details = details.normalized()
    problems.extend(check_factory_details(details, LOCATION_NAMES))
    certifications = []
    for i, entry in enumerate(profile.certifications):
        certification = _certification_details(entry).normalized()
        problems.extend(
            check_certification(certification, f"certifications[{i}].", CERTIFICATION_NAMES)
        )
        certifications.append(certification)

    capabilities: dict[str, CapabilityDetails] = {}
    for i, entry in enumerate(profile.capabilities):
        prefix = f"capabilities[{i}]"
        capability, names = _capability_details(entry, prefix, problems)
        if entry.capabilityId in capabilities:
            problems.add(f"{prefix}.capabilityId", N_("is given twice"))
        if capability is not None:
            problems.extend(check_capability(capability, names))
            capabilities[entry.capabilityId] = capability

    changes, booked = _capacity_changes(profile, set(capabilities), problems, restore)
    if not restore:
        _check_owner_capacity(session, existing, changes, today, problems)
    if existing is not None:
        _check_removed_capabilities(session, existing, set(capabilities), today, problems)
    problems.raise_if_any()
    try:
        return _apply_profile(
            session,
            profile,
            existing,
            organization_id,
            details,
            certifications,
            capabilities,
            changes,
            booked,
            today,
            now,
            restore,
        )
    except sa.exc.IntegrityError as error:
        raise FactoryError(
            "capacity",
            N_(
                "the profile conflicts with work on record for this factory "
                "(capacity that proposals refer to); nothing was changed"
            ),
        ) from error


def _apply_profile(
    session: Session,
    profile: FactoryProfile,
    existing: Factory | None,
    organization_id: int | None,
    details: FactoryDetails,
    certifications: list[CertificationDetails],
    capabilities: dict[str, CapabilityDetails],
    changes: list[CapacityChange],
    booked: dict[tuple[str, date], Decimal],
    today: date,
    now: datetime,
    restore: bool,
) -> Factory:
    with session.begin_nested():
        factory = existing or Factory(
            global_id=profile.factoryId,
            organization_id=organization_id,
            status=FactoryStatus.PENDING,
            name=details.name,
            country=details.country,
            region=details.region,
            latitude=details.latitude,
            longitude=details.longitude,
        )
        factory.name = details.name
        factory.country = details.country
        factory.region = details.region
        factory.city = details.city
        factory.latitude = float(details.latitude)
        factory.longitude = float(details.longitude)
        if restore:
            factory.status = profile.status
            factory.status_reason = profile.statusReason
            if profile.credit is not None:
                factory.credit_score = profile.credit.score
            if profile.status == FactoryStatus.VERIFIED and factory.verified_at is None:
                factory.verified_at = now
        session.add(factory)
        session.flush()
        _replace_certifications(session, factory, certifications)
        _apply_capabilities(session, factory, capabilities, today)
        if restore:
            _drop_buckets_not_in(session, factory, set(capabilities), set(booked))
        if changes:
            set_capacity(
                session,
                factory,
                changes,
                today,
                now,
                allow_past=restore,
                booked=booked if restore else None,
            )
        if restore:
            factory.capacity_updated_at = profile.capacity.updatedAt
            session.add(factory)
        session.flush()
    return factory


def _capacity_changes(
    profile: FactoryProfile, resources: set[str], problems: Problems, restore: bool
) -> tuple[list[CapacityChange], dict[tuple[str, date], Decimal]]:
    changes = []
    booked: dict[tuple[str, date], Decimal] = {}
    seen: set[tuple[str, date]] = set()
    for i, entry in enumerate(profile.capacity.capacities):
        prefix = f"capacity.capacities[{i}]"
        if entry.capabilityId not in resources:
            problems.add(f"{prefix}.capabilityId", N_("is not one of the profile's capabilities"))
        if entry.pointInTime.weekday() != 0:
            problems.add(f"{prefix}.pointInTime", N_("must be the Monday of an ISO week"))
        key = (entry.capabilityId, entry.pointInTime)
        if key in seen:
            problems.add(f"{prefix}.pointInTime", N_("this capability and week are given twice"))
        seen.add(key)
        if entry.actualCapacity > entry.maximumCapacity:
            problems.add(f"{prefix}.actualCapacity", N_("must not exceed maximumCapacity"))
        if restore and entry.bookedCapacity > entry.maximumCapacity:
            problems.add(f"{prefix}.bookedCapacity", N_("must not exceed maximumCapacity"))
        booked[key] = entry.bookedCapacity
        changes.append(
            CapacityChange(
                entry.capabilityId,
                entry.pointInTime,
                entry.maximumCapacity,
                entry.actualCapacity,
                field=f"{prefix}.maximumCapacity",
                actual_field=f"{prefix}.actualCapacity",
                week_field=f"{prefix}.pointInTime",
            )
        )
    return changes, booked


def _check_owner_capacity(
    session: Session,
    existing: Factory | None,
    changes: list[CapacityChange],
    today: date,
    problems: Problems,
) -> None:
    """An owner may not rewrite past weeks, nor cut a maximum below what is booked.

    Past weeks that say what is already recorded pass, so that an exported profile
    imports back unchanged; `changes` loses them, as there is nothing to write.
    """
    stored: dict[tuple[str, date], CapacityBucket] = {}
    if existing is not None:
        for bucket in session.exec(
            select(CapacityBucket).where(CapacityBucket.factory_id == existing.id)
        ).all():
            stored[(bucket.resource, bucket.point_in_time)] = bucket
    this_week = monday_of(today)
    kept = []
    for change in changes:
        bucket = stored.get((change.resource, change.week))
        if change.week < this_week:
            same = (
                bucket is not None
                and Decimal(bucket.maximum_hours) == change.maximum_hours
                and Decimal(bucket.actual_hours) == change.actual_hours
            )
            if not same:
                problems.add(
                    change.week_field,
                    N_("week %(week)s is past and cannot change", week=week_label(change.week)),
                )
            continue
        if bucket is not None and change.maximum_hours < Decimal(bucket.booked_hours):
            short = Decimal(bucket.booked_hours) - change.maximum_hours
            problems.add(
                change.field,
                N_(
                    "%(booked)s h are already booked in week %(week)s, "
                    "%(short)s h more than this maximum",
                    booked=bucket.booked_hours,
                    week=week_label(change.week),
                    short=short,
                ),
            )
        kept.append(change)
    changes[:] = kept


def _check_removed_capabilities(
    session: Session, factory: Factory, keep: set[str], today: date, problems: Problems
) -> None:
    for capability in session.exec(select(Capability).where(Capability.factory_id == factory.id)):
        if capability.process_code in keep:
            continue
        booked = booked_hours_ahead(session, factory.id, capability.process_code, today)
        if booked > 0:
            problems.add(
                "capabilities",
                N_(
                    "%(resource)s is missing, but %(hours)s h are booked on it; "
                    "it cannot be removed while work is booked",
                    resource=capability.process_code,
                    hours=booked,
                ),
            )


def _replace_certifications(
    session: Session, factory: Factory, certifications: list[CertificationDetails]
) -> None:
    session.execute(sa.delete(Certification).where(Certification.factory_id == factory.id))
    for details in certifications:
        session.add(
            Certification(
                factory_id=factory.id,
                certificate_type=details.certificate_type,
                certificate_version=details.certificate_version,
                registration_number=details.registration_number,
                issuer=details.issuer,
                valid_from=details.valid_from,
                valid_until=details.valid_until,
            )
        )
    session.flush()


def _drop_buckets_not_in(
    session: Session, factory: Factory, resources: set[str], keep: set[tuple[str, date]]
) -> None:
    """A restore makes the calendar of each capability exactly the file's."""
    doomed = [
        bucket.id
        for bucket in session.exec(
            select(CapacityBucket).where(
                CapacityBucket.factory_id == factory.id,
                CapacityBucket.resource.in_(sorted(resources)),
            )
        )
        if (bucket.resource, bucket.point_in_time) not in keep
    ]
    if doomed:
        session.execute(sa.delete(CapacityBucket).where(CapacityBucket.id.in_(doomed)))
        session.flush()


def _apply_capabilities(
    session: Session, factory: Factory, capabilities: dict[str, CapabilityDetails], today: date
) -> None:
    current = {
        c.process_code: c
        for c in session.exec(select(Capability).where(Capability.factory_id == factory.id))
    }
    for code, capability in current.items():
        if code not in capabilities:
            delete_capability(session, capability, today)
    session.flush()
    for code, details in capabilities.items():
        if code in current:
            update_capability(session, current[code], details)
        else:
            create_capability(session, factory, details)


def capacity_by_week(profile: FactoryProfile) -> dict[str, dict[date, CapacityEntry]]:
    """capabilityId -> week -> entry; handy for views and tests."""
    table: dict[str, dict[date, CapacityEntry]] = defaultdict(dict)
    for entry in profile.capacity.capacities:
        table[entry.capabilityId][entry.pointInTime] = entry
    return table
