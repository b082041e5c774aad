"""A factory's credit score from its ledger events: pure functions, no database.

Five components, each a share of good outcomes among the factory's events, smoothed with
a Beta prior (mean PRIOR_MEAN, worth PRIOR_STRENGTH events), so a newcomer starts at the
prior and one bad job moves a small shop only part of the way:

    value(c) = (PRIOR_MEAN * PRIOR_STRENGTH + good(c)) / (PRIOR_STRENGTH + good(c) + bad(c))
    score    = sum over c of weight(c) * value(c)          (the weights add up to 1)

Older events weigh less: an event of a month `m` months before the month of the score
counts 0.5 ** (m / HALF_LIFE_MONTHS). Counting by whole months keeps the score a function
of the set of events: whatever the order in which they are added, the sums are the same.
What each event counts for: `contributions`; the whole rule: docs/credit.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from factories.ledger import EventKind

PRIOR_MEAN = 0.7
PRIOR_STRENGTH = 4.0
HALF_LIFE_MONTHS = 12


@dataclass(frozen=True)
class Component:
    name: str
    weight: float
    # What counts as good and as bad, in words for docs and pages (texts elsewhere).
    good: str
    bad: str


COMPONENTS: tuple[Component, ...] = (
    Component("on_time", 0.30, "shipped by the due date", "shipped after the due date"),
    Component(
        "quality",
        0.35,
        "work accepted, disputes won",
        "disputes lost (half for a partial refund)",
    ),
    Component(
        "commitment",
        0.20,
        "proposals accepted",
        "proposals declined or left to expire after matching",
    ),
    Component(
        "cancellations",
        0.05,
        "orders confirmed",
        "accepted work the factory cancelled",
    ),
    Component("volume", 0.10, "orders delivered", "none: volume only adds confidence"),
)
WEIGHTS = {c.name: c.weight for c in COMPONENTS}


def month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


@dataclass(frozen=True)
class Fact:
    """One ledger event as the score sees it."""

    event_id: int
    kind: str
    month: int
    order_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


def contributions(fact: Fact) -> list[tuple[str, float, float]]:
    """(component, good, bad) for each component the event counts in."""
    kind, payload = fact.kind, fact.payload
    if kind == EventKind.DELIVERED:
        on_time = payload.get("timeliness") == "on_time"
        return [("on_time", 1.0 if on_time else 0.0, 0.0 if on_time else 1.0), ("volume", 1, 0)]
    if kind == EventKind.QUALITY_ACCEPTED:
        return [("quality", 1.0, 0.0)]
    if kind == EventKind.DISPUTE_RESOLVED:
        outcome = payload.get("outcome")
        if outcome == "factory_won":
            return [("quality", 1.0, 0.0)]
        if outcome == "buyer_won":
            return [("quality", 0.0, 1.0)]
        if outcome == "partial":
            return [("quality", 0.5, 0.5)]
        return []
    if kind == EventKind.PROPOSAL_ACCEPTED:
        return [("commitment", 1.0, 0.0)]
    if kind in (EventKind.PROPOSAL_DECLINED, EventKind.PROPOSAL_EXPIRED):
        return [("commitment", 0.0, 1.0)]
    if kind == EventKind.ORDER_CONFIRMED:
        return [("cancellations", 1.0, 0.0)]
    if kind == EventKind.PROPOSAL_WITHDRAWN and payload.get("by") == "factory":
        return [("cancellations", 0.0, 1.0)]
    return []


def counts(kind: str) -> bool:
    """Whether events of this kind can change a score."""
    return kind in COUNTING_KINDS


COUNTING_KINDS = frozenset(
    {
        EventKind.DELIVERED,
        EventKind.QUALITY_ACCEPTED,
        EventKind.DISPUTE_RESOLVED,
        EventKind.PROPOSAL_ACCEPTED,
        EventKind.PROPOSAL_DECLINED,
        EventKind.PROPOSAL_EXPIRED,
        EventKind.ORDER_CONFIRMED,
        EventKind.PROPOSAL_WITHDRAWN,
    }
)


@dataclass
class Tally:
    """Good and bad outcomes per component and month, and the events behind each."""

    # (component, month) -> [good, bad]
    sums: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    # component -> [(event id, order id)]
    behind: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    events: int = 0

    def add(self, fact: Fact) -> Tally:
        self.events += 1
        for name, good, bad in contributions(fact):
            entry = self.sums.setdefault((name, fact.month), [0.0, 0.0])
            entry[0] += good
            entry[1] += bad
            self.behind.setdefault(name, []).append((fact.event_id, fact.order_id))
        return self

    @classmethod
    def of(cls, facts: Iterable[Fact]) -> Tally:
        tally = cls()
        for fact in facts:
            tally.add(fact)
        return tally


def decay(age_months: int) -> float:
    return float(0.5 ** (max(age_months, 0) / HALF_LIFE_MONTHS))


@dataclass(frozen=True)
class Part:
    """One component of a score: its weight, value and what made it."""

    name: str
    weight: float
    value: float
    good: float
    bad: float
    events: tuple[tuple[int, int | None], ...]

    @property
    def points(self) -> float:
        return self.weight * self.value


@dataclass(frozen=True)
class Standing:
    score: float
    parts: tuple[Part, ...]
    events: int

    @property
    def basis_points(self) -> int:
        return round(self.score * 10_000)


def value(good: float, bad: float) -> float:
    return (PRIOR_MEAN * PRIOR_STRENGTH + good) / (PRIOR_STRENGTH + good + bad)


def standing(tally: Tally, now_month: int) -> Standing:
    parts = []
    for component in COMPONENTS:
        good = bad = 0.0
        for (name, month), (g, b) in sorted(tally.sums.items()):
            if name == component.name:
                weight = decay(now_month - month)
                good += weight * g
                bad += weight * b
        parts.append(
            Part(
                component.name,
                component.weight,
                value(good, bad),
                good,
                bad,
                tuple(sorted(tally.behind.get(component.name, []))),
            )
        )
    score = sum(p.points for p in parts)
    return Standing(min(1.0, max(0.0, round(score, 4))), tuple(parts), tally.events)


def score_of(facts: Iterable[Fact], now: datetime) -> float:
    return standing(Tally.of(facts), month_index(now)).score


# How much a missing point of credit adds to a factory's price when the engine compares
# offers (docs/matching-problem.md): at credit 1 the price itself, at 0.7 six percent
# more, at 0 half as much again. The buyer pays the real price.
RISK_WEIGHT = 0.5


def risk_adjusted(price_minor: int, credit: float, weight: float = RISK_WEIGHT) -> int:
    """price x (1 + weight x (1 - credit)), in whole minor units."""
    return round(price_minor * (1 + weight * (1 - min(max(credit, 0.0), 1.0))))
