"""Buyer search: verified factories that fit the filters, ranked by fit, with reasons.

A factory matches when one of its capabilities passes every per-capability filter
(process or a specialization of it, material, part envelope in any orientation,
tolerance: the envelope and tolerance are factories.fit's rule, the one matching
eligibility uses, so search never hides a factory the engine would use), the factory
passes the per-factory ones (region, country, a certification valid today, minimum
credit), and the capabilities that match have at least the asked free hours in the
week window, summed over the weeks. The database narrows the candidates (with the
indexes of migration 0005); ranking and reasons are computed on that short list:

    fit = 0.40 free-hours share + 0.25 price + 0.20 credit + 0.15 distance

where the free-hours share is the factory's free hours over the most any candidate
has, price is the cheapest candidate's rate over this one's (same currency), and
distance is 1 / (1 + km / 300) from the buyer's location; without a location its
weight is shared out among the others.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from factories.capability import MAX_ENVELOPE_MM
from factories.capacity.hours import HOURS_PLACES, free_hours_sql
from factories.capacity.weeks import last_week, monday_of, week_count, week_label
from factories.certifications import valid_on
from factories.errors import N_, FactoryError, Problems
from factories.fit import Need, classes_holding, distance_km, fits
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Certification,
    Factory,
    FactoryStatus,
)
from factories.paging import Page, check_paging, offset
from factories.taxonomy import (
    CERTIFICATIONS,
    MATERIALS,
    PROCESSES,
    TOLERANCE_CLASSES,
    specializations_of,
)

DEFAULT_WINDOW_WEEKS = 4
MAX_WINDOW_WEEKS = 26
MAX_PER_PAGE = 100
WEIGHTS = {"free_hours": 0.40, "price": 0.25, "credit": 0.20, "distance": 0.15}
DISTANCE_SCALE_KM = 300.0


@dataclass(frozen=True)
class SearchFilters:
    process: str | None = None
    material: str | None = None
    certification: str | None = None
    min_length_mm: int | None = None
    min_width_mm: int | None = None
    min_height_mm: int | None = None
    tolerance_class: str | None = None
    region: str | None = None
    country: str | None = None
    week_from: date | None = None
    week_to: date | None = None
    min_free_hours: Decimal | None = None
    min_credit: float | None = None
    near_latitude: float | None = None
    near_longitude: float | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Reason:
    """Why a result matches: a kind and its figures; the web layer words it."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    factory_id: int
    global_id: str
    name: str
    country: str
    region: str
    city: str
    latitude: float
    longitude: float
    credit_score: float
    processes: list[str]
    free_hours: Decimal
    hourly_rate_minor: int
    currency: str
    distance_km: float | None
    score: float = 0.0
    score_parts: dict[str, float] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)
    # Envelope of the best-fitting matching capability (largest), for the reason.
    envelope_mm: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class SearchPage(Page[SearchResult]):
    """One page of results, and the week window their free hours were counted in."""

    week_from: date
    week_to: date

    @property
    def results(self) -> list[SearchResult]:
        return self.items


def window(filters: SearchFilters, today: date) -> tuple[date, date]:
    """The first and last Monday of the week window; a FactoryError at week_from when
    the default window from it runs past the end of the calendar."""
    first = monday_of(filters.week_from) if filters.week_from else monday_of(today)
    last = (
        monday_of(filters.week_to)
        if filters.week_to
        else last_week(first, DEFAULT_WINDOW_WEEKS, "week_from")
    )
    return first, last


def check_filters(filters: SearchFilters, today: date) -> Problems:
    problems = Problems()
    if filters.process is not None and filters.process not in PROCESSES:
        problems.add("process", N_("is not a process of the taxonomy"))
    if filters.material is not None and filters.material not in MATERIALS:
        problems.add("material", N_("is not a material of the taxonomy"))
    if filters.certification is not None and filters.certification not in CERTIFICATIONS:
        problems.add(
            "certification", N_("must be one of %(choices)s", choices=", ".join(CERTIFICATIONS))
        )
    if filters.tolerance_class is not None and filters.tolerance_class not in TOLERANCE_CLASSES:
        problems.add(
            "tolerance_class",
            N_("must be one of %(choices)s", choices=", ".join(TOLERANCE_CLASSES)),
        )
    for name in ("min_length_mm", "min_width_mm", "min_height_mm"):
        value = getattr(filters, name)
        if value is not None and not 1 <= value <= MAX_ENVELOPE_MM:
            problems.add(name, N_("must be from 1 to %(maximum)s mm", maximum=MAX_ENVELOPE_MM))
    try:
        first, last = window(filters, today)
    except FactoryError as error:
        problems.add_error(error)
    else:
        if last < first:
            problems.add("week_to", N_("must not be before week_from"))
        elif week_count(first, last) > MAX_WINDOW_WEEKS:
            problems.add(
                "week_to",
                N_("the window may span at most %(weeks)s weeks", weeks=MAX_WINDOW_WEEKS),
            )
    if filters.min_free_hours is not None and filters.min_free_hours < 0:
        problems.add("min_free_hours", N_("must be zero or more"))
    if filters.min_credit is not None and not 0 <= filters.min_credit <= 1:
        problems.add("min_credit", N_("must be between 0 and 1"))
    if (filters.near_latitude is None) != (filters.near_longitude is None):
        problems.add("near_latitude", N_("give both latitude and longitude, or neither"))
    if filters.near_latitude is not None and not -90 <= filters.near_latitude <= 90:
        problems.add("near_latitude", N_("must be between -90 and 90"))
    if filters.near_longitude is not None and not -180 <= filters.near_longitude <= 180:
        problems.add("near_longitude", N_("must be between -180 and 180"))
    problems.extend(check_paging(filters.page, filters.per_page, MAX_PER_PAGE))
    return problems


def _asked_part(filters: SearchFilters) -> tuple[int | None, ...]:
    """The part the buyer asked to fit, if any size was given (an open size is 0)."""
    sizes = (filters.min_length_mm, filters.min_width_mm, filters.min_height_mm)
    return sizes if any(size is not None for size in sizes) else ()


def search_factories(session: Session, filters: SearchFilters, today: date) -> SearchPage:
    """One page of matching verified factories, best fit first."""
    check_filters(filters, today).raise_if_any()
    first, last = window(filters, today)

    conditions: list[Any] = [Factory.status == FactoryStatus.VERIFIED]
    if filters.process is not None:
        conditions.append(Capability.process_code.in_(sorted(specializations_of(filters.process))))
    need = Need(part_mm=_asked_part(filters), tolerance_class=filters.tolerance_class)
    if need.part_mm:
        # Prefilter only: some side of the envelope must take the part's longest side.
        # Whether the part fits, in any orientation, is factories.fit's decision below.
        longest = max(size or 0 for size in need.part_mm)
        conditions.append(
            sa.or_(
                Capability.max_length_mm >= longest,
                Capability.max_width_mm >= longest,
                Capability.max_height_mm >= longest,
            )
        )
    if need.tolerance_class is not None:
        conditions.append(Capability.tolerance_class.in_(classes_holding(need.tolerance_class)))
    if filters.region is not None:
        conditions.append(Factory.region == filters.region)
    if filters.country is not None:
        conditions.append(Factory.country == filters.country.upper())
    if filters.min_credit is not None:
        conditions.append(Factory.credit_score >= filters.min_credit)
    if filters.material is not None:
        conditions.append(
            sa.exists().where(
                CapabilityMaterial.capability_id == Capability.id,
                CapabilityMaterial.material == filters.material,
            )
        )
    if filters.certification is not None:
        conditions.append(
            sa.exists().where(
                Certification.factory_id == Factory.id,
                Certification.certificate_type == filters.certification,
                valid_on(today),
            )
        )

    # Free hours of each matching capability in the window: an index lookup per row on
    # (factory_id, resource, point_in_time), summed per factory below.
    free = (
        sa.select(sa.func.coalesce(sa.func.sum(free_hours_sql(CapacityBucket)), 0))
        .where(
            CapacityBucket.factory_id == Capability.factory_id,
            CapacityBucket.resource == Capability.process_code,
            CapacityBucket.point_in_time >= first,
            CapacityBucket.point_in_time <= last,
        )
        .correlate(Capability)
        .scalar_subquery()
    )
    statement = (
        sa.select(
            Capability.factory_id,
            Capability.process_code,
            Capability.hourly_rate_minor,
            Capability.currency,
            Capability.max_length_mm,
            Capability.max_width_mm,
            Capability.max_height_mm,
            Capability.tolerance_class,
            free.label("free_hours"),
            Factory.credit_score,
            Factory.latitude,
            Factory.longitude,
        )
        .join(Factory, Factory.id == Capability.factory_id)
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
    ranking = _rank(results, filters)
    start = offset(filters.page, filters.per_page)
    page = results[start : start + filters.per_page]
    for r in page:
        r.score_parts = {k: round(v, 4) for k, v in ranking.parts(r).items()}
    _describe(session, page)
    _explain(session, page, filters, first, last, today)
    return SearchPage(page, len(results), filters.page, filters.per_page, first, last)


def _describe(session: Session, page: list[SearchResult]) -> None:
    """Names and places, fetched for the page only."""
    if not page:
        return
    rows = session.execute(
        sa.select(
            Factory.id,
            Factory.global_id,
            Factory.name,
            Factory.country,
            Factory.region,
            Factory.city,
        ).where(Factory.id.in_([r.factory_id for r in page]))
    )
    details = {row[0]: row for row in rows}
    for r in page:
        _, r.global_id, r.name, r.country, r.region, r.city = details[r.factory_id]


class _Ranking:
    """The fit of each result against the others: see the module's formula."""

    def __init__(self, results: list[SearchResult], filters: SearchFilters) -> None:
        self.most_free = float(max(r.free_hours for r in results))
        self.cheapest: dict[str, int] = {}
        for r in results:
            known = self.cheapest.get(r.currency)
            if known is None or r.hourly_rate_minor < known:
                self.cheapest[r.currency] = r.hourly_rate_minor
        weights = dict(WEIGHTS)
        if filters.near_latitude is None:
            spare = weights.pop("distance")
            total = sum(weights.values())
            weights = {k: v + spare * v / total for k, v in weights.items()}
        self.weights = weights

    def parts(self, r: SearchResult) -> dict[str, float]:
        parts = {
            "free_hours": float(r.free_hours) / self.most_free if self.most_free > 0 else 0.0,
            "price": (
                self.cheapest[r.currency] / r.hourly_rate_minor if r.hourly_rate_minor > 0 else 1.0
            ),
            "credit": r.credit_score,
        }
        if "distance" in self.weights and r.distance_km is not None:
            parts["distance"] = 1.0 / (1.0 + r.distance_km / DISTANCE_SCALE_KM)
        return parts

    def score(self, r: SearchResult) -> float:
        return round(sum(self.weights[k] * v for k, v in self.parts(r).items()), 4)


def _rank(results: list[SearchResult], filters: SearchFilters) -> _Ranking:
    ranking = _Ranking(results, filters)
    for r in results:
        r.score = ranking.score(r)
    results.sort(key=lambda r: (-r.score, r.factory_id))
    return ranking


def _explain(
    session: Session,
    page: list[SearchResult],
    filters: SearchFilters,
    first: date,
    last: date,
    today: date,
) -> None:
    """The reasons of each result on the page, one per filter that it passed, plus fit."""
    certificates: dict[int, Certification] = {}
    if filters.certification is not None and page:
        for c in session.exec(
            select(Certification)
            .where(
                Certification.factory_id.in_([r.factory_id for r in page]),
                Certification.certificate_type == filters.certification,
                valid_on(today),
            )
            .order_by(Certification.valid_until)
        ).all():
            certificates[c.factory_id] = c  # the longest-valid one wins
    for r in page:
        reasons = []
        if filters.process is not None:
            reasons.append(
                Reason(
                    "process",
                    {
                        "requested": filters.process,
                        "offered": r.processes,
                        "specialized": [p for p in r.processes if p != filters.process],
                    },
                )
            )
        else:
            reasons.append(Reason("processes", {"offered": r.processes}))
        if filters.material is not None:
            reasons.append(Reason("material", {"material": filters.material}))
        if filters.certification is not None and r.factory_id in certificates:
            c = certificates[r.factory_id]
            reasons.append(
                Reason(
                    "certification",
                    {"certification": c.certificate_type, "valid_until": c.valid_until},
                )
            )
        requested = (filters.min_length_mm, filters.min_width_mm, filters.min_height_mm)
        if any(v is not None for v in requested):
            reasons.append(
                Reason(
                    "envelope",
                    {"envelope": list(r.envelope_mm), "requested": [v or 0 for v in requested]},
                )
            )
        if filters.tolerance_class is not None:
            reasons.append(Reason("tolerance", {"tolerance_class": filters.tolerance_class}))
        if filters.region is not None or filters.country is not None:
            reasons.append(Reason("location", {"region": r.region, "country": r.country}))
        reasons.append(
            Reason(
                "free_hours",
                {
                    "hours": r.free_hours,
                    "week_from": week_label(first),
                    "week_to": week_label(last),
                    "minimum": filters.min_free_hours,
                },
            )
        )
        reasons.append(Reason("credit", {"score": r.credit_score, "minimum": filters.min_credit}))
        reasons.append(Reason("price", {"rate_minor": r.hourly_rate_minor, "currency": r.currency}))
        if r.distance_km is not None:
            reasons.append(Reason("distance", {"km": r.distance_km}))
        r.reasons = reasons


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
