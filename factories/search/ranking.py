"""How well a matching factory fits (the weighted score), and why it matches."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from factories.capacity.weeks import week_label
from factories.certifications import valid_on
from factories.models import (
    Certification,
)
from factories.search.filters import DISTANCE_SCALE_KM, WEIGHTS, Reason, SearchFilters, SearchResult


class Ranking:
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


def rank(results: list[SearchResult], filters: SearchFilters) -> Ranking:
    ranking = Ranking(results, filters)
    for r in results:
        r.score = ranking.score(r)
    results.sort(key=lambda r: (-r.score, r.factory_id))
    return ranking


def explain(
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
                col(Certification.factory_id).in_([r.factory_id for r in page]),
                Certification.certificate_type == filters.certification,
                valid_on(today),
            )
            .order_by(col(Certification.valid_until))
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
