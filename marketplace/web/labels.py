"""Words for codes and figures, in the reader's language: taxonomy codes, states,
hours and money. Every page and message of every area takes its labels from here."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

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


def hours(value: Decimal | float | int) -> str:
    return format_decimal(Decimal(value).quantize(Decimal("0.01")).normalize() + 0, "#,##0.##")


def money(minor: int | float | None, currency: str = "EUR") -> str:
    """In the currency's own minor units and the reader's format: 150000 JPY is
    JP¥150,000 (¥150,000 in Chinese), 150000 EUR €1,500.00."""
    if minor is None:
        return "—"
    return format_currency(major_units(round(minor), currency), currency)


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
