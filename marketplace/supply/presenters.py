"""How a factory, its certifications, its capabilities and its capacity grid are shown,
worked out once for the pages and the API alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlmodel import Session

from factories.capability import capabilities_of, major_units
from factories.capacity.calendar import CapacityGrid, days_since_capacity_update, is_stale
from factories.capacity.weeks import week_label
from factories.certifications import certifications_of, is_valid_on
from factories.models import Capability, Certification, Factory, id_of
from factories.telemetry.machines import is_silent, machines_of
from marketplace import db
from marketplace.supply.clock import today_and_now
from marketplace.supply.schemas import (
    CapabilityOut,
    CapacityCellOut,
    CapacityOut,
    CertificationOut,
    FactoryOut,
)
from marketplace.web import labels

# Certifications -------------------------------------------------------------------------


class CertificationState(NamedTuple):
    """A certification and whether it counts today (pages show a badge, the API a flag)."""

    certification: Certification
    valid_today: bool
    expired: bool


def certification_state(certification: Certification, today: date) -> CertificationState:
    return CertificationState(
        certification,
        valid_today=is_valid_on(certification, today),
        expired=certification.valid_until < today,
    )


def certification_states(
    session: Session, factory_id: int, today: date
) -> list[CertificationState]:
    return [certification_state(c, today) for c in certifications_of(session, factory_id)]


def certification_out(state: CertificationState) -> CertificationOut:
    c = state.certification
    return CertificationOut(
        id=id_of(c),
        certificate_type=c.certificate_type,
        certificate_version=c.certificate_version,
        registration_number=c.registration_number,
        issuer=c.issuer,
        valid_from=c.valid_from,
        valid_until=c.valid_until,
        valid_today=state.valid_today,
        expired=state.expired,
    )


# Capabilities ---------------------------------------------------------------------------


def hourly_rate(capability: Capability) -> Decimal:
    """The rate in the currency's major units (85.50 EUR), as people type and read it."""
    return major_units(capability.hourly_rate_minor, capability.currency)


def capability_out(capability: Capability, materials: list[str]) -> CapabilityOut:
    return CapabilityOut(
        id=id_of(capability),
        process_code=capability.process_code,
        labels={
            "en": labels.process_label(capability.process_code, "en"),
            "zh": labels.process_label(capability.process_code, "zh"),
        },
        materials=materials,
        tolerance_class=capability.tolerance_class,
        max_length_mm=capability.max_length_mm,
        max_width_mm=capability.max_width_mm,
        max_height_mm=capability.max_height_mm,
        batch_min=capability.batch_min,
        batch_max=capability.batch_max,
        hourly_rate=float(hourly_rate(capability)),
        hourly_rate_minor=capability.hourly_rate_minor,
        currency=capability.currency,
    )


# The factory ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityFreshness:
    """Whether buyers can trust the factory's calendar: it goes stale when untouched."""

    stale: bool
    days_since_update: int | None  # None: nothing published yet


def capacity_freshness(factory: Factory, now: datetime) -> CapacityFreshness:
    return CapacityFreshness(
        stale=is_stale(factory, now), days_since_update=days_since_capacity_update(factory, now)
    )


def _isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def factory_out(factory: Factory) -> dict[str, Any]:
    """The factory as the API shows it, as of now: certifications flagged when expired,
    the calendar when stale."""
    session = db.session()
    today, now = today_and_now()
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
        capacity_updated_at=_isoformat(factory.capacity_updated_at),
        capacity_stale=capacity_freshness(factory, now).stale,
        certifications=[
            certification_out(state)
            for state in certification_states(session, id_of(factory), today)
        ],
        capabilities=[
            capability_out(v.capability, v.materials)
            for v in capabilities_of(session, id_of(factory))
        ],
    ).model_dump(mode="json")


# The capacity grid ----------------------------------------------------------------------


def grid_out(factory: Factory, grid: CapacityGrid) -> dict[str, Any]:
    """Resources x weeks as a flat list of cells, each week by its Monday and its label."""
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
        updatedAt=_isoformat(factory.capacity_updated_at),
        stale=grid.stale,
        capabilityIds=grid.resources,
        weeks=[week_label(w) for w in grid.weeks],
        capacities=cells,
    ).model_dump(mode="json")


# Machines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineLine:
    """A machine as the calendar shows it beside its process's row."""

    machine_id: str
    state: str | None
    last_seen_at: datetime | None
    silent: bool


def machines_by_process(
    session: Session, factory: Factory, now: datetime
) -> dict[str, list[MachineLine]]:
    """The processes whose hours come from machines, with their machines."""
    found: dict[str, list[MachineLine]] = {}
    for m in machines_of(session, id_of(factory)):
        found.setdefault(m.process_code, []).append(
            MachineLine(m.machine_id, m.state, m.last_seen_at, is_silent(m, now))
        )
    return found
