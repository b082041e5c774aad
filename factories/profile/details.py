"""A profile's parts as the inputs of the services that keep them, each problem named
at its place in the profile (`capabilities[2].price.value`,
`capacity.capacities[3].maximumCapacity` ...).

Field names are the profile's (Catena-X DCM for capacity); the rules stay the
services': onboarding for the factory and its certifications, capability for
capabilities, the calendar for capacity.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from factories.capability import CapabilityDetails, minor_units
from factories.capacity.calendar import CapacityChange
from factories.errors import N_, Problems
from factories.onboarding import CertificationDetails, FactoryDetails
from factories.profile.schema import (
    BATCH_CONSTRAINT,
    ENVELOPE_PROPERTIES,
    CapabilityEntry,
    CertificationEntry,
    FactoryProfile,
)


def factory_details(profile: FactoryProfile) -> FactoryDetails:
    """The factory's own fields (problems named as in LOCATION_NAMES)."""
    return FactoryDetails(
        name=profile.name,
        country=profile.location.country,
        region=profile.location.region,
        city=profile.location.city,
        latitude=profile.location.latitude,
        longitude=profile.location.longitude,
    )


def capability_details(
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


def certification_details(entry: CertificationEntry) -> CertificationDetails:
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


class DcmCapacity(Protocol):
    """One resource in one week in Catena-X DCM names (a profile's CapacityEntry, or an
    API request's)."""

    # Read-only, so that a model whose actualCapacity is always given fits as well.
    @property
    def capabilityId(self) -> str: ...
    @property
    def pointInTime(self) -> date: ...
    @property
    def maximumCapacity(self) -> Decimal: ...
    @property
    def actualCapacity(self) -> Decimal | None: ...


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


def capacity_changes(
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
