"""A factory as its standardized profile (export).

Export writes the profile in its canonical order (see schema.canonical), so that
export, import and export again give the same document.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlmodel import Session, col, select

from factories.capability import capabilities_of, major_units
from factories.capacity.hours import HOURS_PLACES
from factories.certifications import certifications_of
from factories.credit.service import standing_of
from factories.models import Capability, CapacityBucket, Certification, Factory, id_of, utcnow
from factories.profile.schema import (
    BATCH_CONSTRAINT,
    ENVELOPE_PROPERTIES,
    CapabilityEntry,
    CapacityBlock,
    CapacityEntry,
    CertificationEntry,
    Constraint,
    Credit,
    CreditComponent,
    FactoryProfile,
    LiveStatus,
    Location,
    MachineryItemState,
    MachineStatus,
    MaterialEntry,
    Price,
    ProfileStatus,
    RangeProperty,
    certification_order,
    process_labels,
)
from factories.taxonomy import PROCESSES
from factories.telemetry.machines import is_silent, machines_of
from factories.telemetry.models import Machine, MachineState

# The factory's own state is the most productive any of its machines is in.
PRODUCTIVE_FIRST = (
    MachineState.EXECUTING,
    MachineState.NOT_EXECUTING,
    MachineState.OUT_OF_SERVICE,
    MachineState.NOT_AVAILABLE,
)


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


def export_profile(session: Session, factory: Factory) -> FactoryProfile:
    certifications = sorted(
        (certification_entry(c) for c in certifications_of(session, id_of(factory))),
        key=certification_order,
    )
    views = capabilities_of(session, id_of(factory))
    capabilities = [capability_entry(v.capability, v.materials) for v in views]
    # Calendars of removed capabilities stay as history but are no longer offered.
    buckets = session.exec(
        select(CapacityBucket)
        .where(
            CapacityBucket.factory_id == factory.id,
            col(CapacityBucket.resource).in_([v.capability.process_code for v in views]),
        )
        .order_by(col(CapacityBucket.resource), col(CapacityBucket.point_in_time))
    ).all()
    return FactoryProfile(
        factoryId=factory.global_id,
        name=factory.name,
        # The factory table's check constraint holds status to these values.
        status=cast(ProfileStatus, factory.status),
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
                    actualCapacity=Decimal(b.actual_hours).quantize(HOURS_PLACES),
                    maximumCapacity=Decimal(b.maximum_hours).quantize(HOURS_PLACES),
                    bookedCapacity=Decimal(b.booked_hours).quantize(HOURS_PLACES),
                )
                for b in buckets
            ],
        ),
        credit=credit_of(session, factory),
        liveStatus=live_status(machines_of(session, id_of(factory)), utcnow()),
    )


def credit_of(session: Session, factory: Factory) -> Credit:
    standing = standing_of(session, id_of(factory))
    return Credit(
        score=factory.credit_score,
        components=[
            CreditComponent(
                name=part.name,
                weight=part.weight,
                value=round(part.value, 4),
                events=len(part.events),
            )
            for part in standing.parts
        ],
    )


def live_status(machines: list[Machine], now: datetime) -> LiveStatus | None:
    """None for a factory without registered machines: its hours are typed by people."""
    if not machines:
        return None
    states = {m.state for m in machines if m.state}
    reported = [m.utilization for m in machines if m.utilization is not None]
    observed = [m.observed_at for m in machines if m.observed_at is not None]
    return LiveStatus(
        machineryItemState=next((s.value for s in PRODUCTIVE_FIRST if s in states), None),
        utilization=round(sum(reported) / len(reported), 4) if reported else None,
        observedAt=max(observed) if observed else None,
        machines=[
            MachineStatus(
                machineId=m.machine_id,
                capabilityId=m.process_code,
                machineryItemState=cast(MachineryItemState | None, m.state),
                utilization=m.utilization,
                observedAt=m.observed_at,
                silent=is_silent(m, now),
            )
            for m in sorted(machines, key=lambda m: m.machine_id)
        ],
    )
