"""Words for codes and figures, in the reader's language: taxonomy codes, states,
hours and money. Every page and message of every area takes its labels from here."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from babel import Locale
from babel.dates import format_interval
from babel.numbers import parse_pattern
from flask_babel import format_currency, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from factories.capability import major_units
from factories.capacity.weeks import monday_of_week_label
from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES


def current_locale() -> str:
    return str(get_locale() or "en")


def process_label(code: str, locale: str) -> str:
    process = PROCESSES.get(code)
    return process.label(locale) if process else code


def material_label(code: str, locale: str) -> str:
    material = MATERIALS.get(code)
    return material.label(locale) if material else code


def certification_label(code: str, locale: str) -> str:
    certification = CERTIFICATIONS.get(code)
    if certification is None:
        return code
    return certification.zh if locale.startswith("zh") else certification.en


def country_label(code: str, locale: str) -> str:
    """A country's name in the reader's language (ISO 3166 code in, Babel's CLDR name out)."""
    return Locale.parse(locale).territories.get(code.upper(), code)


def countries(locale: str) -> list[tuple[str, str]]:
    """(ISO code, name) of every country, by name in the reader's language; CLDR's
    groupings and private-use codes (EU, UN, ZZ, XK...) are not countries to deliver to."""
    names = Locale.parse(locale).territories
    found = [
        (code, name)
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    ]
    return sorted(found, key=lambda pair: collation_key(pair[1]))


NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB", "XK"})


def collation_key(name: str) -> str:
    # Without ICU, Latin names sort by their letters without accents; Chinese names by
    # their code points, which groups them well enough for a scrolled list.
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower() or name


# Parsed once: a calendar page formats a few hundred figures.
HOURS_PATTERN = parse_pattern("#,##0.##")


def hours(value: Decimal | float | int) -> str:
    return HOURS_PATTERN.apply(
        Decimal(value).quantize(Decimal("0.01")).normalize() + 0, get_locale() or "en"
    )


def money(minor: int | float | None, currency: str = "EUR") -> str:
    """In the currency's own minor units and the reader's format: 150000 JPY is
    JP¥150,000 (¥150,000 in Chinese), 150000 EUR €1,500.00."""
    if minor is None:
        return "—"
    return format_currency(major_units(round(minor), currency), currency)


SOLVER_STATUS_LABELS = {
    "OPTIMAL": _l("the best plan possible (proven)"),
    "FEASIBLE": _l("a good plan, not proven the best in the time allowed"),
    "INFEASIBLE": _l("no plan possible"),
    "UNKNOWN": _l("no plan found in the time allowed"),
}


def solver_status_label(status: str | None) -> str:
    """What the engine's status says about a plan, for a person (its code stays in the
    downloads and the API)."""
    if not status:
        return "—"
    label = SOLVER_STATUS_LABELS.get(status)
    return status if label is None else str(label)


# Built once: a page lists many states, and each label is translated when it is read.
STATE_LABELS = {
    "draft": _l("draft"),
    "open": _l("open"),
    "matching": _l("matching"),
    "proposed": _l("proposed"),
    "awaiting_payment": _l("awaiting payment"),
    "confirmed": _l("confirmed"),
    "in_production": _l("in production"),
    "shipped": _l("shipped"),
    "delivered": _l("delivered"),
    "closed": _l("closed"),
    "resolved": _l("resolved"),
    "cancelled": _l("cancelled"),
    "disputed": _l("disputed"),
    "pending": _l("pending"),
    "accepted": _l("accepted"),
    "declined": _l("declined"),
    "expired": _l("expired"),
    "superseded": _l("superseded"),
    "withdrawn": _l("withdrawn"),
    "queued": _l("queued"),
    "running": _l("running"),
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
    "started": _l("production started"),
    "qa_passed": _l("quality check passed"),
    # payments and payouts
    "requested": _l("requested"),
    "processing": _l("processing"),
    "captured": _l("paid"),
    "canceled": _l("cancelled"),
    "waiting": _l("waiting for the factory's payout account"),
    "sent": _l("sent"),
    # machines (MachineryItemState)
    "NotAvailable": _l("not available"),
    "OutOfService": _l("out of service"),
    "NotExecuting": _l("ready, not executing"),
    "Executing": _l("executing"),
}


def state_label(state: str) -> str:
    """An order's, a proposal's, a run's, a milestone's, a payment's or a payout's state."""
    label = STATE_LABELS.get(state)
    return state if label is None else str(label)


def week(label_or_monday: str | date) -> str:
    """An ISO week as a person reads it: "week 49 (Nov 30 – Dec 6, 2026)"."""
    monday = (
        monday_of_week_label(label_or_monday)
        if isinstance(label_or_monday, str)
        else label_or_monday
    )
    days = format_interval(monday, monday + timedelta(days=6), "yMMMd", locale=current_locale())
    return _("week %(number)s (%(days)s)", number=monday.isocalendar()[1], days=days)


def weeks(labels: list[str]) -> str:
    return ", ".join(week(label) for label in labels)
