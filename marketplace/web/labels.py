"""Words for codes and figures, in the reader's language: taxonomy codes, states,
hours and money. Every page and message of every area takes its labels from here."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from babel import Locale
from babel.dates import format_interval
from flask_babel import format_currency, format_decimal, get_locale
from flask_babel import gettext as _

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


def hours(value: Decimal | float | int) -> str:
    return format_decimal(Decimal(value).quantize(Decimal("0.01")).normalize() + 0, "#,##0.##")


def money(minor: int | float | None, currency: str = "EUR") -> str:
    """In the currency's own minor units and the reader's format: 150000 JPY is
    JP¥150,000 (¥150,000 in Chinese), 150000 EUR €1,500.00."""
    if minor is None:
        return "—"
    return format_currency(major_units(round(minor), currency), currency)


def solver_status_label(status: str | None) -> str:
    """What the engine's status says about a plan, for a person (its code stays in the
    downloads and the API)."""
    if not status:
        return "—"
    return {
        "OPTIMAL": _("the best plan possible (proven)"),
        "FEASIBLE": _("a good plan, not proven the best in the time allowed"),
        "INFEASIBLE": _("no plan possible"),
        "UNKNOWN": _("no plan found in the time allowed"),
    }.get(status, status)


def state_label(state: str) -> str:
    """An order's, a proposal's, a run's, a milestone's, a payment's or a payout's state."""
    return {
        "draft": _("draft"),
        "open": _("open"),
        "matching": _("matching"),
        "proposed": _("proposed"),
        "awaiting_payment": _("awaiting payment"),
        "confirmed": _("confirmed"),
        "in_production": _("in production"),
        "shipped": _("shipped"),
        "delivered": _("delivered"),
        "closed": _("closed"),
        "resolved": _("resolved"),
        "cancelled": _("cancelled"),
        "disputed": _("disputed"),
        "pending": _("pending"),
        "accepted": _("accepted"),
        "declined": _("declined"),
        "expired": _("expired"),
        "superseded": _("superseded"),
        "withdrawn": _("withdrawn"),
        "queued": _("queued"),
        "running": _("running"),
        "succeeded": _("succeeded"),
        "failed": _("failed"),
        "started": _("production started"),
        "qa_passed": _("quality check passed"),
        # payments and payouts
        "requested": _("requested"),
        "processing": _("processing"),
        "captured": _("paid"),
        "canceled": _("cancelled"),
        "waiting": _("waiting for the factory's payout account"),
        "sent": _("sent"),
        # machines (MachineryItemState)
        "NotAvailable": _("not available"),
        "OutOfService": _("out of service"),
        "NotExecuting": _("ready, not executing"),
        "Executing": _("executing"),
    }.get(state, state)


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
