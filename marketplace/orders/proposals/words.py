"""A proposal's explanation in words, each audience addressed as itself: the buyer reads
why each factory was or was not chosen, the factory reads why it got the work. The
engine's own account (`matching.explain`) is read from its fields, never from its
English `detail` sentences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from marketplace.orders.proposals.engine import CLOSENESS
from marketplace.orders.runs.problem import parse_capacity_line
from marketplace.web.labels import hours, money
from matching.reasons import (
    CHOSEN,
    CREDIT_BELOW_MINIMUM,
    MORE_EXPENSIVE,
    NO_CAPACITY,
    NO_FREE_CAPACITY,
    NOT_NEEDED,
    NOT_USED,
    SHIPPING_TOO_SLOW,
)

OUTCOMES = {
    CHOSEN: lambda: _("chosen"),
    CREDIT_BELOW_MINIMUM: lambda: _("credit too low"),
    SHIPPING_TOO_SLOW: lambda: _("too far away"),
    NO_CAPACITY: lambda: _("no free hours"),
    NO_FREE_CAPACITY: lambda: _("hours taken by other work"),
    MORE_EXPENSIVE: lambda: _("more expensive"),
    NOT_NEEDED: lambda: _("not needed"),
    NOT_USED: lambda: _("not used"),
}


def score(value: float | None) -> str:
    return format_decimal(value or 0, "0.00")


def shipping(weeks: int) -> str:
    if weeks == 0:
        return _("ships within the week")
    return ngettext("about %(num)s week of shipping", "about %(num)s weeks of shipping", weeks)


@dataclass(frozen=True)
class EngineRow:
    """One factory in the engine's account of a line, as the buyer reads it."""

    factory: str
    outcome: str
    text: str
    chosen: bool


def _buyer_text(entry: dict[str, Any], total_hours: float, currency: str, min_credit: float) -> str:
    reason = entry.get("reason")
    lead = int(entry.get("lead_periods") or 0)
    if reason == CHOSEN:
        return _(
            "Makes %(hours)s of the line's %(total)s hours (%(share)s%%) for %(price)s; %(ships)s.",
            hours=hours(entry.get("hours", 0)),
            total=hours(total_hours),
            share=format_decimal(round(entry.get("share", 0) * 100), "0"),
            price=money(round(entry.get("price", entry.get("cost", 0))), currency),
            ships=shipping(lead),
        )
    if reason == CREDIT_BELOW_MINIMUM:
        return _(
            "Its credit score %(credit)s is below your minimum of %(minimum)s.",
            credit=score(entry.get("credit")),
            minimum=score(min_credit),
        )
    if reason == SHIPPING_TOO_SLOW:
        return _("With %(ships)s it could not deliver by your due date.", ships=shipping(lead))
    if reason == NO_CAPACITY:
        return _("It had no free hours in the weeks the work had to be made.")
    if reason == NO_FREE_CAPACITY:
        return _("Its free hours went to other work matched at the same time.")
    if reason == MORE_EXPENSIVE:
        return _(
            "Adjusted for credit, it would have cost %(extra)s more for the whole line.",
            extra=money(round(entry.get("extra_cost", 0)), currency),
        )
    if reason == NOT_NEEDED:
        return _("The line was already fully placed at no greater cost.")
    if reason == NOT_USED:
        return _(
            "It had room and was not more expensive, but the plan, which is not proven "
            "optimal, did not use it."
        )
    return _("No reason was given.")


def engine_rows(
    engine: dict[str, Any], factory_names: dict[str, str], currency: str, min_credit: float
) -> list[EngineRow]:
    """Each factory once: chosen if one of its capacity lines was, else the reason of the
    line that came closest."""
    entries: dict[int, dict[str, Any]] = {}
    for entry in [*engine.get("chosen", []), *engine.get("not_chosen", [])]:
        factory_id = parse_capacity_line(entry["factory"])[0]
        kept = entries.get(factory_id)
        if kept is None or _rank(entry) < _rank(kept):
            entries[factory_id] = entry
    total = float(engine.get("hours") or 0)
    rows = [
        EngineRow(
            factory=factory_names.get(entry["factory"], _("another factory")),
            outcome=OUTCOMES.get(entry.get("reason", ""), lambda: _("not chosen"))(),
            text=_buyer_text(entry, total, currency, min_credit),
            chosen=entry.get("reason") == CHOSEN,
        )
        for entry in entries.values()
    ]
    return sorted(rows, key=lambda r: (not r.chosen, r.factory))


def _rank(entry: dict[str, Any]) -> int:
    reason = entry.get("reason")
    if reason == CHOSEN:
        return -1
    return CLOSENESS.index(reason) if reason in CLOSENESS else len(CLOSENESS)
