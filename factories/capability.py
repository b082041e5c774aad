"""What a factory can make: process, materials, part envelope, tolerance, batch, rate.

One capability per process code and factory; its process code is also the `resource`
of the factory's capacity calendar, so a capability's process never changes once
created (add another capability instead). Every function validates the whole input
first and raises FactoryError naming each faulty field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypedDict

import sqlalchemy as sa
from babel.numbers import get_currency_precision, list_currencies
from sqlmodel import Session, col, select

from factories.capacity.weeks import monday_of
from factories.errors import N_, FactoryError, Problems
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Factory,
    FactoryStatus,
    get_by_id,
    id_of,
    utcnow,
)
from factories.taxonomy import MATERIALS, PROCESSES, TOLERANCE_CLASSES, materials_for

CURRENCIES: frozenset[str] = frozenset(list_currencies())
MAX_ENVELOPE_MM = 100_000
MAX_BATCH = 100_000_000
MAX_RATE_MINOR = 100_000_000  # a million per hour in major units: surely a typo beyond


@dataclass(frozen=True)
class CapabilityDetails:
    process_code: str
    materials: tuple[str, ...]
    tolerance_class: str
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int
    batch_max: int
    hourly_rate_minor: int
    currency: str = "EUR"

    def normalized(self) -> CapabilityDetails:
        # Keep the order given, drop repeats.
        materials = tuple(dict.fromkeys(m.strip() for m in self.materials))
        return CapabilityDetails(
            process_code=self.process_code.strip(),
            materials=materials,
            tolerance_class=self.tolerance_class.strip(),
            max_length_mm=self.max_length_mm,
            max_width_mm=self.max_width_mm,
            max_height_mm=self.max_height_mm,
            batch_min=self.batch_min,
            batch_max=self.batch_max,
            hourly_rate_minor=self.hourly_rate_minor,
            currency=self.currency.strip().upper(),
        )


@dataclass
class CapabilityView:
    """A capability with its materials, as pages, the API and the profile show it."""

    capability: Capability
    materials: list[str] = field(default_factory=list)


# Money ---------------------------------------------------------------------------------


def minor_units(amount: Decimal | str | float, currency: str) -> int:
    """`85.50 EUR` -> 8550; raises ValueError when the amount has more decimals than the
    currency has minor units (0 for JPY, 2 for EUR)."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as error:
        raise ValueError(N_("must be a number")) from error
    if not value.is_finite():
        raise ValueError(N_("must be a number"))
    precision = get_currency_precision(currency) if currency in CURRENCIES else 2
    try:
        scaled = value.scaleb(precision)
        whole = scaled.to_integral_value()
    except ArithmeticError as error:  # beyond the decimal context (9e999999999)
        raise ValueError(N_("must be zero or more, and plausible")) from error
    if scaled != whole:
        raise ValueError(
            N_(
                "has more than %(places)s decimal places for %(currency)s",
                places=precision,
                currency=currency,
            )
        )
    return int(scaled)


@dataclass(frozen=True)
class Amount:
    """A sum of money inside a service message: English names it in major units and its
    currency; a page shows it in the reader's money format (`marketplace.web.messages`)."""

    minor: int
    currency: str

    def __str__(self) -> str:
        return f"{major_units(self.minor, self.currency):,} {self.currency}"


def major_units(minor: int, currency: str) -> Decimal:
    precision = get_currency_precision(currency) if currency in CURRENCIES else 2
    return Decimal(minor).scaleb(-precision)


# Validation ----------------------------------------------------------------------------


def check_capability(details: CapabilityDetails, names: dict[str, str] | None = None) -> Problems:
    """Every problem of the input; `names` maps our field names to the caller's."""
    name_of = (names or {}).get
    problems = Problems()
    process = PROCESSES.get(details.process_code)
    if process is None:
        problems.add(
            name_of("process_code", "process_code"), N_("is not a process of the taxonomy")
        )
    materials_field = name_of("materials", "materials")
    if not details.materials:
        problems.add(materials_field, N_("choose at least one material"))
    allowed = {m.code for m in materials_for(details.process_code)} if process else set(MATERIALS)
    for material in details.materials:
        if material not in MATERIALS:
            problems.add(
                materials_field, N_("%(code)r is not a material of the taxonomy", code=material)
            )
        elif material not in allowed:
            problems.add(
                materials_field,
                N_(
                    "%(material)s cannot be processed by %(process)s",
                    material=material,
                    process=details.process_code,
                ),
            )
    if details.tolerance_class not in TOLERANCE_CLASSES:
        problems.add(
            name_of("tolerance_class", "tolerance_class"),
            N_("must be one of %(choices)s", choices=", ".join(TOLERANCE_CLASSES)),
        )
    for dimension in ("max_length_mm", "max_width_mm", "max_height_mm"):
        value = getattr(details, dimension)
        if not _is_int(value) or not 1 <= value <= MAX_ENVELOPE_MM:
            problems.add(
                name_of(dimension, dimension),
                N_("must be a whole number from 1 to %(maximum)s", maximum=MAX_ENVELOPE_MM),
            )
    batch_ok = True
    for bound in ("batch_min", "batch_max"):
        value = getattr(details, bound)
        if not _is_int(value) or not 1 <= value <= MAX_BATCH:
            problems.add(
                name_of(bound, bound),
                N_("must be a whole number from 1 to %(maximum)s", maximum=MAX_BATCH),
            )
            batch_ok = False
    if batch_ok and details.batch_max < details.batch_min:
        problems.add(name_of("batch_max", "batch_max"), N_("must not be below the minimum batch"))
    rate = details.hourly_rate_minor
    if not _is_int(rate) or not 0 <= rate <= MAX_RATE_MINOR:
        problems.add(
            name_of("hourly_rate", "hourly_rate"), N_("must be zero or more, and plausible")
        )
    if details.currency not in CURRENCIES:
        problems.add(name_of("currency", "currency"), N_("must be an ISO 4217 currency code"))
    return problems


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Reading -------------------------------------------------------------------------------


def quoted_currencies(session: Session) -> list[str]:
    """The currencies verified factories quote their rates in: the only ones an order can
    be placed in (the engine offers a line only to factories quoting its currency)."""
    return list(
        session.exec(
            select(Capability.currency)
            .join(Factory, col(Factory.id) == Capability.factory_id)
            .where(Factory.status == FactoryStatus.VERIFIED)
            .distinct()
            .order_by(col(Capability.currency))
        ).all()
    )


def capabilities_of(session: Session, factory_id: int) -> list[CapabilityView]:
    capabilities = session.exec(
        select(Capability)
        .where(Capability.factory_id == factory_id)
        .order_by(Capability.process_code)
    ).all()
    views = {c.id: CapabilityView(c) for c in capabilities}
    if views:
        rows = session.exec(
            select(CapabilityMaterial)
            .where(col(CapabilityMaterial.capability_id).in_(list(views)))
            .order_by(CapabilityMaterial.material)
        ).all()
        for row in rows:
            views[row.capability_id].materials.append(row.material)
    return list(views.values())


def capability_of(session: Session, factory: Factory, capability_id: int) -> Capability | None:
    capability = get_by_id(session, Capability, capability_id)
    if capability is None or capability.factory_id != factory.id:
        return None
    return capability


def materials_of(session: Session, capability_id: int) -> list[str]:
    return list(
        session.exec(
            select(CapabilityMaterial.material)
            .where(CapabilityMaterial.capability_id == capability_id)
            .order_by(CapabilityMaterial.material)
        ).all()
    )


# Writing -------------------------------------------------------------------------------


def create_capability(
    session: Session,
    factory: Factory,
    details: CapabilityDetails,
    names: dict[str, str] | None = None,
) -> Capability:
    details = details.normalized()
    problems = check_capability(details, names)
    existing = session.exec(
        select(Capability.id).where(
            Capability.factory_id == factory.id, Capability.process_code == details.process_code
        )
    ).first()
    if existing is not None:
        problems.add(
            (names or {}).get("process_code", "process_code"),
            N_("this factory already has a capability for this process; edit that one"),
        )
    problems.raise_if_any()
    capability = Capability(factory_id=id_of(factory), **_capability_columns(details))
    session.add(capability)
    session.flush()
    _replace_materials(session, capability, details.materials)
    session.flush()
    return capability


def update_capability(
    session: Session, capability: Capability, details: CapabilityDetails
) -> Capability:
    details = details.normalized()
    problems = check_capability(details)
    if details.process_code != capability.process_code:
        problems.add(
            "process_code",
            N_(
                "the process of a capability cannot change, because its capacity calendar is "
                "kept under it; add a new capability instead"
            ),
        )
    problems.raise_if_any()
    for column, value in _capability_columns(details).items():
        setattr(capability, column, value)
    capability.updated_at = utcnow()
    session.add(capability)
    _replace_materials(session, capability, details.materials)
    session.flush()
    return capability


class _CapabilityColumns(TypedDict):
    process_code: str
    tolerance_class: str
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int
    batch_max: int
    hourly_rate_minor: int
    currency: str


def _capability_columns(details: CapabilityDetails) -> _CapabilityColumns:
    return {
        "process_code": details.process_code,
        "tolerance_class": details.tolerance_class,
        "max_length_mm": details.max_length_mm,
        "max_width_mm": details.max_width_mm,
        "max_height_mm": details.max_height_mm,
        "batch_min": details.batch_min,
        "batch_max": details.batch_max,
        "hourly_rate_minor": details.hourly_rate_minor,
        "currency": details.currency,
    }


def _replace_materials(
    session: Session, capability: Capability, materials: tuple[str, ...]
) -> None:
    session.execute(
        sa.delete(CapabilityMaterial).where(col(CapabilityMaterial.capability_id) == capability.id)
    )
    for material in materials:
        session.add(CapabilityMaterial(capability_id=id_of(capability), material=material))


def booked_hours_ahead(
    session: Session, factory_id: int, process_code: str, today: date
) -> Decimal:
    booked = session.exec(
        select(sa.func.coalesce(sa.func.sum(CapacityBucket.booked_hours), 0)).where(
            CapacityBucket.factory_id == factory_id,
            CapacityBucket.resource == process_code,
            CapacityBucket.point_in_time >= monday_of(today),
        )
    ).one()
    return Decimal(booked)


def delete_capability(session: Session, capability: Capability, today: date) -> None:
    """Removes the capability; refused while work is booked on it from this week on.

    Its calendar rows stay as history (past weeks may be referenced by finished work);
    the weeks ahead drop to zero, so nothing is offered under it any more.
    """
    booked = booked_hours_ahead(session, capability.factory_id, capability.process_code, today)
    if booked > 0:
        raise FactoryError(
            "capability",
            N_(
                "%(hours)s h are booked on this process from this week on; "
                "it can be removed once that work is done",
                hours=booked,
            ),
        )
    retire_resource(session, capability.factory_id, capability.process_code, today)
    session.delete(capability)
    session.flush()


def retire_resource(session: Session, factory_id: int, resource: str, today: date) -> None:
    """Offer nothing more under a resource from this week on (nothing is booked there)."""
    session.execute(
        sa.update(CapacityBucket)
        .where(
            col(CapacityBucket.factory_id) == factory_id,
            col(CapacityBucket.resource) == resource,
            col(CapacityBucket.point_in_time) >= monday_of(today),
        )
        .values(maximum_hours=0, actual_hours=0, updated_at=utcnow())
    )
