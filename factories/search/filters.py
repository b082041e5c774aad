"""What a buyer may ask of the search, and the one check of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from factories.capability import MAX_ENVELOPE_MM
from factories.capacity.weeks import last_week, monday_of, week_count
from factories.errors import N_, FactoryError, Problems
from factories.paging import Page, check_paging
from factories.taxonomy import (
    CERTIFICATIONS,
    MATERIALS,
    PROCESSES,
    TOLERANCE_CLASSES,
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


def asked_part(filters: SearchFilters) -> tuple[int | None, ...]:
    """The part the buyer asked to fit, if any size was given (an open size is 0)."""
    sizes = (filters.min_length_mm, filters.min_width_mm, filters.min_height_mm)
    return sizes if any(size is not None for size in sizes) else ()
