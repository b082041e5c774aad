"""A standardized factory profile into a factory (import and restore).

Export then import is lossless: `export_profile(import_profile(p))` equals `p` in its
canonical order (lists sorted as export writes them). Import has two modes:

- an owner's import (`restore=False`) changes what the owner controls: name, location,
  certifications, capabilities (those missing from the file are removed, unless work is
  booked on them) and maximum/planned hours of the weeks it lists; status, credit and
  booked hours stay the marketplace's, and past weeks cannot be rewritten;
- a restore (`restore=True`, the operator's command line) takes everything from the
  file, including status, credit, booked hours and past weeks.

Every problem of the file is reported at once, named by its place in the profile,
before anything is written. The rules are those of the services the import calls: the
factory's details and certifications (onboarding), its capabilities (capability), and
its capacity (the calendar, in the calendar's words).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Session, select

from factories.capability import (
    CapabilityDetails,
    booked_hours_ahead,
    check_capability,
    create_capability,
    delete_capability,
    minor_units,
    update_capability,
)
from factories.capacity.calendar import (
    CapacityChange,
    check_changes,
    check_not_below_booked,
    set_capacity,
)
from factories.capacity.weeks import monday_of
from factories.errors import N_, FactoryError, Problems
from factories.models import Capability, CapacityBucket, Factory, FactoryStatus
from factories.onboarding import (
    CertificationDetails,
    FactoryDetails,
    check_certification,
    check_factory_details,
    replace_certifications,
)
from factories.profile.schema import (
    BATCH_CONSTRAINT,
    ENVELOPE_PROPERTIES,
    CapabilityEntry,
    CertificationEntry,
    FactoryProfile,
)


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

    changes, booked_in_file = _capacity_changes(profile)
    if restore:
        booked = booked_in_file
    else:
        # An owner's file cannot change booked hours: the calendar checks against those
        # on record.
        stored = _stored_buckets(session, existing)
        changes = _without_unchanged_past_weeks(changes, stored, today)
        booked = {key: Decimal(bucket.booked_hours) for key, bucket in stored.items()}
    problems.extend(check_changes(changes, capabilities.keys(), today, allow_past=restore))
    problems.extend(check_not_below_booked(changes, booked))
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
            booked_in_file,
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
    booked_in_file: dict[tuple[str, date], Decimal],
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
        replace_certifications(session, factory, certifications)
        _apply_capabilities(session, factory, capabilities, today)
        if restore:
            _drop_buckets_not_in(session, factory, set(capabilities), set(booked_in_file))
        if changes:
            set_capacity(
                session,
                factory,
                changes,
                today,
                now,
                allow_past=restore,
                booked=booked_in_file if restore else None,
            )
        if restore:
            factory.capacity_updated_at = profile.capacity.updatedAt
            session.add(factory)
        session.flush()
    return factory


class DcmCapacity(Protocol):
    """One resource in one week in Catena-X DCM names (a profile's CapacityEntry, or an
    API request's)."""

    capabilityId: str
    pointInTime: date
    maximumCapacity: Decimal
    actualCapacity: Decimal | None


def capacity_change(entry: DcmCapacity, prefix: str) -> CapacityChange:
    """The entry as a calendar change whose problems name the entry's own fields
    (`<prefix>.maximumCapacity` ...)."""
    return CapacityChange(
        entry.capabilityId,
        entry.pointInTime,
        entry.maximumCapacity,
        entry.actualCapacity,
        field=f"{prefix}.maximumCapacity",
        actual_field=f"{prefix}.actualCapacity",
        week_field=f"{prefix}.pointInTime",
        resource_field=f"{prefix}.capabilityId",
    )


def _capacity_changes(
    profile: FactoryProfile,
) -> tuple[list[CapacityChange], dict[tuple[str, date], Decimal]]:
    """The profile's capacity as calendar changes, and the booked hours the file gives
    per capability and week."""
    entries = profile.capacity.capacities
    changes = [
        capacity_change(entry, f"capacity.capacities[{i}]") for i, entry in enumerate(entries)
    ]
    booked = {(entry.capabilityId, entry.pointInTime): entry.bookedCapacity for entry in entries}
    return changes, booked


def _stored_buckets(
    session: Session, factory: Factory | None
) -> dict[tuple[str, date], CapacityBucket]:
    if factory is None:
        return {}
    return {
        (bucket.resource, bucket.point_in_time): bucket
        for bucket in session.exec(
            select(CapacityBucket).where(CapacityBucket.factory_id == factory.id)
        ).all()
    }


def _without_unchanged_past_weeks(
    changes: list[CapacityChange],
    stored: dict[tuple[str, date], CapacityBucket],
    today: date,
) -> list[CapacityChange]:
    """An owner cannot rewrite past weeks, but a past week that says what is recorded
    changes nothing: it is left out, so that an exported profile imports back. Any other
    past week stays, for the calendar to refuse."""
    this_week = monday_of(today)
    kept = []
    for change in changes:
        bucket = stored.get((change.resource, change.week))
        unchanged = (
            change.week < this_week
            and bucket is not None
            and Decimal(bucket.maximum_hours) == change.maximum_hours
            and Decimal(bucket.actual_hours) == change.actual_hours
        )
        if not unchanged:
            kept.append(change)
    return kept


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
