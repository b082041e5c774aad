"""The search itself: the database narrows, `fit` decides, `ranking` orders and explains."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.hours import HOURS_PLACES, free_hours_sql
from factories.certifications import valid_on
from factories.fit import Need, classes_holding, distance_km, fits
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Certification,
    Factory,
    FactoryStatus,
)
from factories.paging import offset
from factories.search.filters import (
    SearchFilters,
    SearchPage,
    SearchResult,
    asked_part,
    check_filters,
    window,
)
from factories.search.ranking import explain, rank
from factories.taxonomy import (
    specializations_of,
)


def search_factories(session: Session, filters: SearchFilters, today: date) -> SearchPage:
    """One page of matching verified factories, best fit first."""
    check_filters(filters, today).raise_if_any()
    first, last = window(filters, today)

    conditions: list[Any] = [Factory.status == FactoryStatus.VERIFIED]
    if filters.process is not None:
        conditions.append(
            col(Capability.process_code).in_(sorted(specializations_of(filters.process)))
        )
    need = Need(part_mm=asked_part(filters), tolerance_class=filters.tolerance_class)
    if need.part_mm:
        # Prefilter only: some side of the envelope must take the part's longest side.
        # Whether the part fits, in any orientation, is factories.fit's decision below.
        longest = max(size or 0 for size in need.part_mm)
        conditions.append(
            sa.or_(
                col(Capability.max_length_mm) >= longest,
                col(Capability.max_width_mm) >= longest,
                col(Capability.max_height_mm) >= longest,
            )
        )
    if need.tolerance_class is not None:
        conditions.append(
            col(Capability.tolerance_class).in_(classes_holding(need.tolerance_class))
        )
    if filters.region is not None:
        conditions.append(Factory.region == filters.region)
    if filters.country is not None:
        conditions.append(Factory.country == filters.country.upper())
    if filters.min_credit is not None:
        conditions.append(Factory.credit_score >= filters.min_credit)
    if filters.material is not None:
        conditions.append(
            sa.exists().where(
                col(CapabilityMaterial.capability_id) == col(Capability.id),
                col(CapabilityMaterial.material) == filters.material,
            )
        )
    if filters.certification is not None:
        conditions.append(
            sa.exists().where(
                col(Certification.factory_id) == col(Factory.id),
                col(Certification.certificate_type) == filters.certification,
                valid_on(today),
            )
        )

    # Free hours of each matching capability in the window: an index lookup per row on
    # (factory_id, resource, point_in_time), summed per factory below.
    free = (
        sa.select(sa.func.coalesce(sa.func.sum(free_hours_sql(CapacityBucket)), 0))
        .where(
            col(CapacityBucket.factory_id) == col(Capability.factory_id),
            col(CapacityBucket.resource) == col(Capability.process_code),
            col(CapacityBucket.point_in_time) >= first,
            col(CapacityBucket.point_in_time) <= last,
        )
        .correlate(Capability)
        .scalar_subquery()
    )
    statement = (
        sa.select(
            col(Capability.factory_id),
            col(Capability.process_code),
            col(Capability.hourly_rate_minor),
            col(Capability.currency),
            col(Capability.max_length_mm),
            col(Capability.max_width_mm),
            col(Capability.max_height_mm),
            col(Capability.tolerance_class),
            free.label("free_hours"),
            col(Factory.credit_score),
            col(Factory.latitude),
            col(Factory.longitude),
        )
        .join(Factory, col(Factory.id) == col(Capability.factory_id))
        .where(*conditions)
    )
    per_factory: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(statement):
        if fits(row, need):
            per_factory[row.factory_id].append(row)

    results = []
    for factory_id, rows in per_factory.items():
        free_hours = sum((Decimal(r.free_hours) for r in rows), Decimal(0))
        if filters.min_free_hours is not None and free_hours < filters.min_free_hours:
            continue
        cheapest = min(rows, key=lambda r: (r.hourly_rate_minor, r.currency))
        largest = max(rows, key=lambda r: r.max_length_mm * r.max_width_mm * r.max_height_mm)
        factory = rows[0]
        km = (
            distance_km(
                filters.near_latitude, filters.near_longitude, factory.latitude, factory.longitude
            )
            if filters.near_latitude is not None and filters.near_longitude is not None
            else None
        )
        results.append(
            SearchResult(
                factory_id=factory_id,
                global_id="",
                name="",
                country="",
                region="",
                city="",
                latitude=factory.latitude,
                longitude=factory.longitude,
                credit_score=factory.credit_score,
                processes=sorted(r.process_code for r in rows),
                free_hours=free_hours.quantize(HOURS_PLACES),
                hourly_rate_minor=cheapest.hourly_rate_minor,
                currency=cheapest.currency,
                distance_km=round(km, 1) if km is not None else None,
                envelope_mm=(largest.max_length_mm, largest.max_width_mm, largest.max_height_mm),
            )
        )
    if not results:
        return SearchPage([], 0, filters.page, filters.per_page, first, last)
    ranking = rank(results, filters)
    start = offset(filters.page, filters.per_page)
    page = results[start : start + filters.per_page]
    for r in page:
        r.score_parts = {k: round(v, 4) for k, v in ranking.parts(r).items()}
    _describe(session, page)
    explain(session, page, filters, first, last, today)
    return SearchPage(page, len(results), filters.page, filters.per_page, first, last)


def _describe(session: Session, page: list[SearchResult]) -> None:
    """Names and places, fetched for the page only."""
    if not page:
        return
    rows = session.execute(
        sa.select(
            col(Factory.id),
            col(Factory.global_id),
            col(Factory.name),
            col(Factory.country),
            col(Factory.region),
            col(Factory.city),
        ).where(col(Factory.id).in_([r.factory_id for r in page]))
    )
    details = {row[0]: row for row in rows}
    for r in page:
        _, r.global_id, r.name, r.country, r.region, r.city = details[r.factory_id]


def regions(session: Session) -> list[tuple[str, str]]:
    """(country, region) pairs of verified factories, for the search form."""
    return [
        (country, region)
        for country, region in session.exec(
            select(Factory.country, Factory.region)
            .where(Factory.status == FactoryStatus.VERIFIED)
            .distinct()
            .order_by(Factory.country, Factory.region)
        ).all()
    ]
