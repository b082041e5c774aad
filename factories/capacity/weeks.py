"""ISO weeks, the period of the capacity calendar: a week is named by its Monday.

Every "is this a Monday", "how many weeks from this Monday to that one" and "the week
called 2026-W48" goes through here, so that the calendar, search, the profile and the
marketplace count weeks the same way.
"""

from __future__ import annotations

from datetime import date, timedelta

from factories.errors import N_, FactoryError


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def is_monday(day: date) -> bool:
    """True for the first day of an ISO week, the day that names it."""
    return day.weekday() == 0


def week_count(first: date, last: date) -> int:
    """How many ISO weeks run from the week of `first` to the week of `last`, both
    counted (1 for the same week; 0 or less when `last` comes before `first`)."""
    return (monday_of(last) - monday_of(first)).days // 7 + 1


def week_label(monday: date) -> str:
    """`2026-W48`, the period name used in matching problems."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of_week_label(label: str) -> date:
    """Inverse of week_label; raises ValueError naming the bad label."""
    try:
        year_part, week_part = label.split("-W")
        return date.fromisocalendar(int(year_part), int(week_part), 1)
    except ValueError as error:
        raise ValueError(N_("not an ISO week like 2026-W48: %(label)r", label=label)) from error


def parse_week(value: str) -> date:
    """`2026-W48` or any ISO date in that week -> the Monday of the week."""
    text = str(value).strip()
    if "-W" in text:
        return monday_of_week_label(text)
    try:
        return monday_of(date.fromisoformat(text))
    except ValueError as error:
        raise ValueError(
            N_("not an ISO week like 2026-W48 or a date: %(text)r", text=text)
        ) from error


def last_week(first: date, count: int, field: str) -> date:
    """The Monday of the last of `count` ISO weeks from the week of `first`.

    Python's dates end on 9999-12-31: weeks beyond it are a FactoryError at `field`,
    never an OverflowError.
    """
    monday = monday_of(first)
    try:
        return monday + timedelta(weeks=count - 1)
    except OverflowError:
        raise FactoryError(
            field,
            N_(
                "%(weeks)s weeks from %(week)s run past the end of the calendar",
                weeks=count,
                week=week_label(monday),
            ),
        ) from None


def weeks_from(start: date, count: int, field: str = "week") -> list[date]:
    """The Mondays of `count` ISO weeks from the week of `start` (see last_week)."""
    first = monday_of(start)
    if count > 0:
        last_week(first, count, field)
    return [first + timedelta(weeks=i) for i in range(count)]
