"""Eligibility: which capacity lines may make an order line (`eligible_candidates`).

Decided in the database where it can be (verified factory, a capability for the process
or one of its specializations, the material) and refined in Python for the rest (part
envelope in any orientation, tolerance class, batch size, currency, valid
certifications); the minimum credit is only marked (`meets_credit`), for the engine to
enforce and explain. `marketplace.orders.runs.problem` turns the candidates into jobs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from factories.certifications import valid_certificate_types
from factories.fit import Need, distance_km, fits, lead_weeks
from factories.models import (
    Capability,
    CapabilityMaterial,
    Factory,
    FactoryStatus,
    id_of,
)
from factories.taxonomy import specializations_of
from marketplace.orders.models import Order, OrderLine


def capacity_line_id(factory_id: int, resource: str) -> str:
    return f"factory-{factory_id}/{resource}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A capacity line that fits an order line (`meets_credit`: also its minimum credit)."""

    factory_id: int
    organization_id: int
    resource: str
    hourly_rate_minor: int
    credit: float
    distance_km: float
    lead_periods: int
    meets_credit: bool = True
    # Its id in the problem, made once: a national problem names it in thousands of jobs.
    problem_id: str = ""

    def __post_init__(self) -> None:
        if not self.problem_id:
            object.__setattr__(self, "problem_id", capacity_line_id(self.factory_id, self.resource))


@dataclass
class _CapabilityRow:
    factory_id: int
    organization_id: int
    resource: str
    capability: Capability
    hourly_rate_minor: int
    currency: str
    credit: float
    latitude: float
    longitude: float


class EligibilityCache:
    """What eligibility looks up once per build rather than once per batch of lines:
    capability rows per (process, material), valid certificates per due date, and the
    candidates themselves (orders delivered to the same place share them)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[_CapabilityRow]] = {}
        self.certified_on: dict[date, dict[int, set]] = {}
        self.candidates: dict[tuple[int, str, float, float, bool], Candidate] = {}

    def candidate(self, row: _CapabilityRow, order: Order) -> Candidate:
        meets_credit = row.credit >= order.min_credit
        key = (
            row.factory_id,
            row.resource,
            order.delivery_latitude,
            order.delivery_longitude,
            meets_credit,
        )
        candidate = self.candidates.get(key)
        if candidate is None:
            km = distance_km(
                row.latitude, row.longitude, order.delivery_latitude, order.delivery_longitude
            )
            candidate = self.candidates[key] = Candidate(
                factory_id=row.factory_id,
                organization_id=row.organization_id,
                resource=row.resource,
                hourly_rate_minor=row.hourly_rate_minor,
                credit=row.credit,
                distance_km=round(km, 1),
                lead_periods=lead_weeks(km),
                meets_credit=meets_credit,
                problem_id=capacity_line_id(row.factory_id, row.resource),
            )
        return candidate


def eligible_candidates(
    session: Session,
    lines: Sequence[tuple[OrderLine, Order]],
    cache: EligibilityCache | None = None,
) -> dict[int, list[Candidate]]:
    """Capacity lines fitting each order line, by line id (one query per process and
    material); those below the order's minimum credit come with `meets_credit` false."""
    cache = cache or EligibilityCache()
    groups: dict[tuple[str, str], list[tuple[OrderLine, Order]]] = defaultdict(list)
    for line, order in lines:
        groups[(line.process_code, line.material)].append((line, order))
    result: dict[int, list[Candidate]] = {}
    for (process, material), members in groups.items():
        rows = cache.rows.get((process, material))
        if rows is None:
            rows = cache.rows[(process, material)] = capability_rows(session, process, material)
        certified_on = cache.certified_on
        for line, order in members:
            needed = set(line.certifications_required)
            if needed and order.due_date not in certified_on:
                certified_on[order.due_date] = valid_certificate_types(
                    session, {r.factory_id for r in rows}, order.due_date
                )
            need = Need(
                part_mm=(line.length_mm, line.width_mm, line.height_mm),
                tolerance_class=line.tolerance_class,
                quantity=line.quantity,
            )
            result[id_of(line)] = [
                cache.candidate(row, order)
                for row in rows
                if row.currency == order.currency
                and fits(row.capability, need)
                and (
                    not needed or needed <= certified_on[order.due_date].get(row.factory_id, set())
                )
            ]
    return result


def capability_rows(session: Session, process: str, material: str) -> list[_CapabilityRow]:
    rows = session.exec(
        select(Capability, Factory)
        .join(Factory, col(Factory.id) == col(Capability.factory_id))
        .join(CapabilityMaterial, col(CapabilityMaterial.capability_id) == col(Capability.id))
        .where(
            col(Capability.process_code).in_(sorted(specializations_of(process))),
            CapabilityMaterial.material == material,
            Factory.status == FactoryStatus.VERIFIED,
        )
        .order_by(col(Capability.factory_id), col(Capability.process_code))
    ).all()
    return [
        _CapabilityRow(
            factory_id=id_of(factory),
            organization_id=factory.organization_id,
            resource=capability.process_code,
            capability=capability,
            hourly_rate_minor=capability.hourly_rate_minor,
            currency=capability.currency,
            credit=factory.credit_score,
            latitude=factory.latitude,
            longitude=factory.longitude,
        )
        for capability, factory in rows
    ]
