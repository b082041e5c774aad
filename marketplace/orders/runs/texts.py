"""Why a run left work unplaced, in the buyer's words: each line's eligibility filters
that removed factories and the engine's reasons for those that came through
(`marketplace.orders.proposals.unplaced` counts them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from babel.numbers import get_currency_name
from flask_babel import gettext as _
from flask_babel import ngettext

from factories.capacity.weeks import monday_of_week_label
from factories.fit import BATCH, ENVELOPE, TOLERANCE
from marketplace.orders.models import Order
from marketplace.orders.proposals.unplaced import (
    BUDGET,
    CERTIFICATIONS,
    CREDIT,
    CURRENCY,
    DUE_DATE_PASSED,
    FIT,
    MATERIAL,
    PROCESS,
    REFUSED,
)
from marketplace.orders.proposals.words import score
from marketplace.web.labels import (
    certification_label,
    current_locale,
    hours,
    material_label,
    money,
    process_label,
)
from matching.reasons import CHOSEN, NO_CAPACITY, NO_FREE_CAPACITY, NOT_USED, SHIPPING_TOO_SLOW


@dataclass(frozen=True)
class UnplacedLine:
    """One order line a run could not place in full, and why, for the buyer."""

    heading: str
    reasons: list[str]


def currency_label(code: str, locale: str) -> str:
    """ "Chinese Yuan (CNY)": the name, in the reader's language, and the code."""
    return f"{get_currency_name(code, locale=locale)} ({code})"


def week_span(labels: list[str]) -> str:
    """ "weeks 50–52" from two ISO week labels (one week: "week 50")."""
    first, last = (monday_of_week_label(label).isocalendar()[1] for label in labels[:2])
    if first == last:
        return _("week %(number)s", number=first)
    return _("weeks %(first)s–%(last)s", first=first, last=last)


def _filter_sentences(
    step: dict[str, Any], before: int, line: dict[str, Any], order: Order
) -> list[str]:
    """What one eligibility filter did: said when it removed a factory; "all" when it
    left none."""
    name, removed, left = step["filter"], int(step["removed"]), int(step["left"])
    locale = current_locale()
    process = process_label(line["process"], locale)
    material = material_label(line["material"], locale)
    if name == DUE_DATE_PASSED:
        return [_("The due date has passed: no factory can deliver in time any more.")]
    if name == PROCESS:
        return [_("No verified factory offers %(process)s.", process=process)] if not left else []
    if name == MATERIAL:
        if left:
            return []
        return [
            _(
                "No verified factory offers %(process)s in %(material)s.",
                process=process,
                material=material,
            )
        ]
    if not removed:
        return []
    everyone = left == 0
    if name == CURRENCY:
        currency = currency_label(step.get("currency", ""), locale)
        if everyone:
            return [
                _(
                    "No verified factory offering %(process)s in %(material)s quotes in "
                    "%(currency)s.",
                    process=process,
                    material=material,
                    currency=currency,
                )
            ]
        return [
            ngettext(
                "%(num)d factory offering it does not quote in %(currency)s.",
                "%(num)d factories offering it do not quote in %(currency)s.",
                removed,
                currency=currency,
            )
        ]
    if name == FIT:
        return _fit_sentences(step, before, line)
    if name == CERTIFICATIONS:
        names = ", ".join(certification_label(c, locale) for c in step.get("required", []))
        if everyone:
            return [
                _(
                    "No factory that can make the part holds %(certifications)s valid on the "
                    "due date.",
                    certifications=names,
                )
            ]
        return [
            ngettext(
                "%(num)d factory does not hold %(certifications)s valid on the due date.",
                "%(num)d factories do not hold %(certifications)s valid on the due date.",
                removed,
                certifications=names,
            )
        ]
    if name == REFUSED:
        if everyone:
            return [_("Every qualified factory has declined this line or let its proposal expire.")]
        return [
            ngettext(
                "%(num)d factory has declined this line or let its proposal expire.",
                "%(num)d factories have declined this line or let their proposals expire.",
                removed,
            )
        ]
    if name == BUDGET:
        budget = money(step.get("budget_minor"), order.currency)
        if everyone:
            return [
                _(
                    "Every qualified factory would cost more than your budget of %(budget)s.",
                    budget=budget,
                )
            ]
        return [
            ngettext(
                "%(num)d factory would cost more than your budget of %(budget)s.",
                "%(num)d factories would cost more than your budget of %(budget)s.",
                removed,
                budget=budget,
            )
        ]
    if name == CREDIT:
        minimum = score(step.get("min_credit"))
        if everyone:
            return [
                ngettext(
                    "Your minimum credit score of %(minimum)s excludes the %(num)d qualified "
                    "factory.",
                    "Your minimum credit score of %(minimum)s excludes all %(num)d qualified "
                    "factories.",
                    removed,
                    minimum=minimum,
                )
            ]
        return [
            ngettext(
                "Your minimum credit score of %(minimum)s excludes %(num)d of %(total)s qualified "
                "factories.",
                "Your minimum credit score of %(minimum)s excludes %(num)d of %(total)s qualified "
                "factories.",
                removed,
                minimum=minimum,
                total=before,
            )
        ]
    return []


def _fit_sentences(step: dict[str, Any], before: int, line: dict[str, Any]) -> list[str]:
    sentences = []
    for kind, every, some in (
        (
            ENVELOPE,
            _("No factory offering it can take a part of this size."),
            lambda n: ngettext(
                "%(num)d factory cannot take a part of this size.",
                "%(num)d factories cannot take a part of this size.",
                n,
            ),
        ),
        (
            TOLERANCE,
            _("No factory offering it holds the tolerance asked for."),
            lambda n: ngettext(
                "%(num)d factory cannot hold the tolerance asked for.",
                "%(num)d factories cannot hold the tolerance asked for.",
                n,
            ),
        ),
        (
            BATCH,
            _("No factory offering it takes a batch of this quantity."),
            lambda n: ngettext(
                "%(num)d factory does not take a batch of this quantity.",
                "%(num)d factories do not take a batch of this quantity.",
                n,
            ),
        ),
    ):
        count = int(step.get(kind) or 0)
        if count:
            sentences.append(every if count >= before else some(count))
    if not sentences and step["removed"]:
        sentences.append(_("No factory offering it can make the part as described."))
    return sentences


def _engine_sentence(entry: dict[str, Any]) -> str | None:
    reason, count, total = entry["reason"], int(entry["factories"]), int(entry["of"])
    everyone = count >= total
    weeks = week_span(entry.get("weeks") or [])
    if reason == NO_CAPACITY:
        if everyone:
            return _("Every qualified factory is full in %(weeks)s.", weeks=weeks)
        return ngettext(
            "%(num)d qualified factory is full in %(weeks)s.",
            "%(num)d qualified factories are full in %(weeks)s.",
            count,
            weeks=weeks,
        )
    if reason == SHIPPING_TOO_SLOW:
        if everyone:
            return _("No qualified factory can deliver by the due date with shipping.")
        return ngettext(
            "%(num)d qualified factory cannot deliver by the due date with shipping.",
            "%(num)d qualified factories cannot deliver by the due date with shipping.",
            count,
        )
    if reason == NO_FREE_CAPACITY:
        if everyone:
            return _(
                "The free hours of every qualified factory went to other work matched at the "
                "same time."
            )
        return ngettext(
            "The free hours of %(num)d qualified factory went to other work matched at the "
            "same time.",
            "The free hours of %(num)d qualified factories went to other work matched at the "
            "same time.",
            count,
        )
    if reason == CHOSEN:
        return ngettext(
            "%(num)d factory took part of the line and has no more free hours in %(weeks)s.",
            "%(num)d factories took part of the line and have no more free hours in %(weeks)s.",
            count,
            weeks=weeks,
        )
    if reason == NOT_USED:
        return ngettext(
            "%(num)d qualified factory had room, but the plan, which is not proven optimal, "
            "did not use it: try matching again with more time.",
            "%(num)d qualified factories had room, but the plan, which is not proven optimal, "
            "did not use it: try matching again with more time.",
            count,
        )
    return None


def unplaced_lines(outcome: dict[str, Any] | None, orders: Sequence[Order]) -> list[UnplacedLine]:
    """The lines of `orders` a run left (partly) unplaced, each with its reasons; the
    order's title leads when the run placed several orders."""
    by_id = {o.id: o for o in orders}
    found = []
    for line in (outcome or {}).get("unplaced", []):
        order = by_id.get(line.get("order"))
        if order is None:
            continue
        reasons: list[str] = []
        before = 0
        for step in line.get("funnel", []):
            reasons += _filter_sentences(step, before, line, order)
            before = int(step["left"])
        for entry in line.get("engine", []):
            sentence = _engine_sentence(entry)
            if sentence:
                reasons.append(sentence)
        if not reasons:
            reasons.append(_("No reason was given."))
        locale = current_locale()
        heading = _(
            "Line %(n)s (%(process)s; %(material)s): %(unplaced)s of %(total)s hours not placed.",
            n=line.get("line_no", ""),
            process=process_label(line["process"], locale),
            material=material_label(line["material"], locale),
            unplaced=hours(line.get("unplaced_hours", 0)),
            total=hours(line.get("hours", 0)),
        )
        if len(by_id) > 1:
            heading = f"{order.title} · {heading}"
        found.append(UnplacedLine(heading=heading, reasons=reasons))
    return found
