"""The buyers' search API: verified factories that fit, best first, with the reasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from factories.capability import major_units
from factories.capacity.weeks import parse_week, week_label
from factories.errors import Problems
from factories.search.filters import MAX_PER_PAGE, SearchFilters, SearchResult, check_filters
from factories.search.service import search_factories
from marketplace import db
from marketplace.accounts.access import roles_required
from marketplace.api.answers import ApiAnswer
from marketplace.supply import texts
from marketplace.supply.access import SEARCHERS
from marketplace.supply.blueprints import SEARCH, SECURITY, api
from marketplace.supply.clock import today_and_now
from marketplace.web.labels import current_locale


class SearchQuery(BaseModel):
    process: str | None = Field(default=None, description="process code; specializations count")
    material: str | None = None
    certification: str | None = Field(default=None, description="valid today")
    min_length_mm: int | None = Field(default=None, ge=1)
    min_width_mm: int | None = Field(default=None, ge=1)
    min_height_mm: int | None = Field(default=None, ge=1)
    tolerance_class: str | None = None
    region: str | None = None
    country: str | None = Field(default=None, max_length=2)
    week_from: str | None = Field(default=None, description="ISO week (2026-W48) or a date")
    week_to: str | None = None
    min_free_hours: Decimal | None = Field(default=None, ge=0, description="in the week window")
    min_credit: float | None = Field(default=None, ge=0, le=1)
    near_latitude: float | None = Field(default=None, ge=-90, le=90)
    near_longitude: float | None = Field(default=None, ge=-180, le=180)
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)


class ReasonOut(BaseModel):
    kind: str
    text: str
    data: dict[str, Any]


class SearchResultOut(BaseModel):
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
    free_hours: float
    hourly_rate: float
    currency: str
    distance_km: float | None
    score: float
    score_parts: dict[str, float]
    reasons: list[ReasonOut]


class SearchPageOut(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    week_from: str
    week_to: str
    results: list[SearchResultOut]


def _filters(query: SearchQuery, today: date) -> SearchFilters:
    """The filters of the query; every problem of it at once, as a FactoryError."""
    weeks: dict[str, date | None] = {}
    problems = Problems()
    for name in ("week_from", "week_to"):
        value = getattr(query, name)
        try:
            weeks[name] = parse_week(value) if value else None
        except ValueError as error:
            problems.add(name, str(error))
            weeks[name] = None
    filters = SearchFilters(
        process=query.process,
        material=query.material,
        certification=query.certification,
        min_length_mm=query.min_length_mm,
        min_width_mm=query.min_width_mm,
        min_height_mm=query.min_height_mm,
        tolerance_class=query.tolerance_class,
        region=query.region,
        country=query.country,
        week_from=weeks["week_from"],
        week_to=weeks["week_to"],
        min_free_hours=query.min_free_hours,
        min_credit=query.min_credit,
        near_latitude=query.near_latitude,
        near_longitude=query.near_longitude,
        page=query.page,
        per_page=query.per_page,
    )
    problems.extend(check_filters(filters, today))
    problems.raise_if_any()
    return filters


def _plain(value: Any) -> Any:
    """A reason's value as JSON has it: numbers, ISO dates, lists."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _result_out(result: SearchResult, locale: str) -> SearchResultOut:
    return SearchResultOut(
        factory_id=result.factory_id,
        global_id=result.global_id,
        name=result.name,
        country=result.country,
        region=result.region,
        city=result.city,
        latitude=result.latitude,
        longitude=result.longitude,
        credit_score=result.credit_score,
        processes=result.processes,
        free_hours=float(result.free_hours),
        hourly_rate=float(major_units(result.hourly_rate_minor, result.currency)),
        currency=result.currency,
        distance_km=result.distance_km,
        score=result.score,
        score_parts=result.score_parts,
        reasons=[
            ReasonOut(
                kind=reason.kind,
                text=texts.reason_text(reason, locale),
                data={k: _plain(v) for k, v in reason.data.items()},
            )
            for reason in result.reasons
        ],
    )


@api.get("/factories", tags=[SEARCH], responses={200: SearchPageOut}, security=SECURITY)
# Rates, credit and free hours of every shop: for buyers and operators, never for a
# competing factory or its machine clients (docs/api.md, what is public of a factory).
@roles_required(*SEARCHERS)
def get_factories(query: SearchQuery) -> ApiAnswer:
    """Verified factories matching every filter, best fit first, with the reasons each
    one matches. Free hours are summed over the week window (default: 4 weeks from now)."""
    today, _now = today_and_now()
    page = search_factories(db.session(), _filters(query, today), today)
    locale = current_locale()
    return SearchPageOut(
        total=page.total,
        page=page.page,
        per_page=page.per_page,
        pages=page.pages,
        week_from=week_label(page.week_from),
        week_to=week_label(page.week_to),
        results=[_result_out(r, locale) for r in page.results],
    ).model_dump(mode="json")
