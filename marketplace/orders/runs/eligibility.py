"""Eligibility: which capacity lines may make an order line.

Decided in the database where it can be (verified factory, a capability for the process
or one of its specializations, the material) and refined for the rest (part envelope in
any orientation, tolerance class, batch size, currency, valid certifications) over the
capabilities' columns at once (`factories.fit.FitTable`): a national run weighs each of
its lines against thousands of shops. The minimum credit is only marked
(`meets_credit`), for the engine to enforce and explain.

`eligible` gives each line its `Eligible` capabilities (indices into a
`CapabilityTable`, with their shipping time); `eligible_candidates` spells them out as
`Candidate`s. `marketplace.orders.runs.problem` turns them into jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col

from factories.certifications import valid_certificate_types
from factories.fit import FitTable, Need, distance_km, distances_km, lead_weeks, lead_weeks_of
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


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    """One verified capability able to take a (process, material), as the fit rule and
    the explanations read it (`factories.fit.CapabilityShape`)."""

    factory_id: int
    organization_id: int
    resource: str
    hourly_rate_minor: int
    currency: str
    credit: float
    latitude: float
    longitude: float
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    tolerance_class: str
    batch_min: int
    batch_max: int

    @property
    def problem_id(self) -> str:
        return capacity_line_id(self.factory_id, self.resource)


class CapabilityTable:
    """The capabilities of one (process, material) as columns, ordered by factory and
    process; `rank` orders them by their problem id (the options' last tie-break)."""

    def __init__(self, rows: Sequence[CapabilityRow]) -> None:
        self.rows = list(rows)
        self.fit = FitTable(self.rows)
        self.factory_ids = np.array([r.factory_id for r in rows], dtype=np.int64)
        self.rates = np.array([r.hourly_rate_minor for r in rows], dtype=np.int64)
        self.latitudes = np.array([r.latitude for r in rows], dtype=np.float64)
        self.longitudes = np.array([r.longitude for r in rows], dtype=np.float64)
        self.currencies = np.array([r.currency for r in rows], dtype=object)
        self.problem_ids = [r.problem_id for r in rows]
        self.rank = np.argsort(np.argsort(np.array(self.problem_ids, dtype=object), kind="stable"))
        self._leads: dict[tuple[float, float], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def leads_to(self, latitude: float, longitude: float) -> np.ndarray:
        """Shipping weeks from every capability's factory to a delivery place."""
        leads = self._leads.get((latitude, longitude))
        if leads is None:
            km = distances_km(self.latitudes, self.longitudes, latitude, longitude)
            leads = self._leads[(latitude, longitude)] = lead_weeks_of(km)
        return leads


@dataclass(frozen=True, slots=True)
class Eligible:
    """The capabilities of `table` (at `indices`) that fit one order line."""

    table: CapabilityTable
    indices: np.ndarray
    leads: np.ndarray  # shipping weeks of each, to the order's delivery place


class EligibilityCache:
    """What eligibility looks up once per build rather than once per batch of lines:
    the capability tables per (process, material), the valid certificates per table and
    due date, and the candidates themselves (orders delivered to the same place share
    them)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], CapabilityTable] = {}
        self.certified: dict[tuple[str, str, date, frozenset[str]], np.ndarray] = {}
        self.candidates: dict[tuple[int, str, float, float, bool], Candidate] = {}

    def table(self, session: Session, process: str, material: str) -> CapabilityTable:
        table = self.tables.get((process, material))
        if table is None:
            table = self.tables[(process, material)] = CapabilityTable(
                capability_rows(session, process, material)
            )
        return table

    def candidate(self, table: CapabilityTable, index: int, order: Order) -> Candidate:
        """The candidate for row `index` of the table."""
        row = table.rows[index]
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
                problem_id=row.problem_id,
            )
        return candidate


def eligible(
    session: Session,
    lines: Sequence[tuple[OrderLine, Order]],
    cache: EligibilityCache,
) -> dict[int, Eligible]:
    """The capabilities fitting each order line, by line id (one query per process and
    material, a few array operations per line)."""
    result: dict[int, Eligible] = {}
    for line, order in lines:
        process, material = line.process_code, line.material
        table = cache.table(session, process, material)
        fitting = table.fit.fitting(
            Need(
                part_mm=(line.length_mm, line.width_mm, line.height_mm),
                tolerance_class=line.tolerance_class,
                quantity=line.quantity,
            )
        )
        fitting &= table.currencies == order.currency
        needed = frozenset(line.certifications_required)
        if needed:
            fitting &= _certified(session, cache, process, material, order.due_date, needed)
        indices = np.flatnonzero(fitting)
        result[id_of(line)] = Eligible(
            table=table,
            indices=indices,
            leads=table.leads_to(order.delivery_latitude, order.delivery_longitude)[indices],
        )
    return result


def eligible_candidates(
    session: Session,
    lines: Sequence[tuple[OrderLine, Order]],
    cache: EligibilityCache | None = None,
) -> dict[int, list[Candidate]]:
    """Capacity lines fitting each order line, by line id; those below the order's
    minimum credit come with `meets_credit` false."""
    cache = cache or EligibilityCache()
    orders = {id_of(line): order for line, order in lines}
    return {
        line_id: [cache.candidate(found.table, int(i), orders[line_id]) for i in found.indices]
        for line_id, found in eligible(session, lines, cache).items()
    }


def _certified(
    session: Session,
    cache: EligibilityCache,
    process: str,
    material: str,
    due: date,
    needed: frozenset[str],
) -> np.ndarray:
    """Whether each capability's factory holds every needed certificate, valid on `due`."""
    key = (process, material, due, needed)
    holds = cache.certified.get(key)
    if holds is None:
        table = cache.tables[(process, material)]
        valid = valid_certificate_types(session, {r.factory_id for r in table.rows}, due)
        holds = cache.certified[key] = np.array(
            [needed <= valid.get(r.factory_id, set()) for r in table.rows], dtype=bool
        )
    return holds


def capability_rows(session: Session, process: str, material: str) -> list[CapabilityRow]:
    """The verified capabilities able to take `process` (or a specialization of it) in
    `material`, by factory and process."""
    found = session.execute(
        sa.select(  # more columns than sqlmodel.select is typed for
            col(Capability.factory_id),
            col(Factory.organization_id),
            col(Capability.process_code),
            col(Capability.hourly_rate_minor),
            col(Capability.currency),
            col(Factory.credit_score),
            col(Factory.latitude),
            col(Factory.longitude),
            col(Capability.max_length_mm),
            col(Capability.max_width_mm),
            col(Capability.max_height_mm),
            col(Capability.tolerance_class),
            col(Capability.batch_min),
            col(Capability.batch_max),
        )
        .join(Factory, col(Factory.id) == col(Capability.factory_id))
        .join(CapabilityMaterial, col(CapabilityMaterial.capability_id) == col(Capability.id))
        .where(
            col(Capability.process_code).in_(sorted(specializations_of(process))),
            col(CapabilityMaterial.material) == material,
            col(Factory.status) == FactoryStatus.VERIFIED,
        )
        .order_by(col(Capability.factory_id), col(Capability.process_code))
    ).all()
    return [CapabilityRow(*row) for row in found]
