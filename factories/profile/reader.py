"""A standardized factory profile into a factory (import and restore).

Export then import is lossless: `export_profile(import_profile(p))` equals `p` in its
canonical order (lists sorted as export writes them). Import has two modes:

- an owner's import (`restore=False`) changes what the owner controls: name, location,
  certifications, capabilities (those missing from the file are removed, unless work is
  booked on them) and maximum/planned hours of the weeks it lists; status, credit and
  booked hours stay the marketplace's, and past weeks cannot be rewritten;
- a restore (`restore=True`, the operator's command line) takes everything from the
  file, including status, booked hours and past weeks, except credit: that is earned on
  the ledger, and a restore computes it from the factory's events (docs/credit.md).

Every problem of the file is reported at once, named by its place in the profile,
before anything is written. The rules are those of the services the import calls: the
factory's details and certifications (onboarding), its capabilities (capability), and
its capacity (the calendar, in the calendar's words).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capability import (
    CapabilityDetails,
    booked_hours_ahead,
    check_capability,
    create_capability,
    delete_capability,
    update_capability,
)
from factories.capacity.calendar import (
    CapacityChange,
    check_changes,
    check_not_below_booked,
    set_capacity,
)
from factories.capacity.weeks import monday_of
from factories.credit.service import refresh
from factories.errors import N_, FactoryError, Problems
from factories.models import Capability, CapacityBucket, Factory, FactoryStatus, id_of
from factories.onboarding import (
    CertificationDetails,
    FactoryDetails,
    check_certification,
    check_factory_details,
    replace_certifications,
)
from factories.profile.details import (
    CERTIFICATION_NAMES,
    LOCATION_NAMES,
    capability_details,
    capacity_changes,
    certification_details,
    factory_details,
)
from factories.profile.schema import FactoryProfile


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

    details = factory_details(profile).normalized()
    problems.extend(check_factory_details(details, LOCATION_NAMES))
    certifications = []
    for i, entry in enumerate(profile.certifications):
        certification = certification_details(entry).normalized()
        problems.extend(
            check_certification(certification, f"certifications[{i}].", CERTIFICATION_NAMES)
        )
        certifications.append(certification)

    capabilities: dict[str, CapabilityDetails] = {}
    for i, capability_entry in enumerate(profile.capabilities):
        prefix = f"capabilities[{i}]"
        capability, names = capability_details(capability_entry, prefix, problems)
        if capability_entry.capabilityId in capabilities:
            problems.add(f"{prefix}.capabilityId", N_("is given twice"))
        if capability is not None:
            problems.extend(check_capability(capability, names))
            capabilities[capability_entry.capabilityId] = capability

    changes, booked_in_file = capacity_changes(profile)
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
        if existing is not None:
            factory = existing
        else:
            # import_profile refuses a new factory that no organization would own.
            assert organization_id is not None
            factory = Factory(
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
            if profile.status == FactoryStatus.VERIFIED and factory.verified_at is None:
                factory.verified_at = now
        session.add(factory)
        session.flush()
        if restore:
            # Credit is earned on the ledger, never taken from a file: a restore keeps the
            # score the factory's events give (docs/credit.md).
            refresh(session, id_of(factory), now)
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
        booked = booked_hours_ahead(session, id_of(factory), capability.process_code, today)
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
                col(CapacityBucket.resource).in_(sorted(resources)),
            )
        )
        if (bucket.resource, bucket.point_in_time) not in keep
    ]
    if doomed:
        session.execute(sa.delete(CapacityBucket).where(col(CapacityBucket.id).in_(doomed)))
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
