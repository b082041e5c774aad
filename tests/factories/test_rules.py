"""Rules the supply side keeps in one place: weeks, free hours, text limits, paging."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from factories.capacity.hours import free_hours, free_hours_sql
from factories.capacity.weeks import is_monday, week_count
from factories.errors import FactoryError, InputError
from factories.models import CapacityBucket, Certification, Factory, text_limit
from factories.onboarding import (
    FactoryDetails,
    check_factory_details,
    factories_for_review,
    suspend_factory,
)
from factories.paging import Page, check_paging, page_number
from tests.factories.conftest import TODAY, week

D = Decimal


def test_mondays_and_weeks_between_them():
    monday = date(2026, 11, 23)
    assert is_monday(monday) and not is_monday(monday + timedelta(days=1))
    assert week_count(monday, monday) == 1
    assert week_count(monday, monday + timedelta(weeks=3)) == 4
    # Any day of a week counts as that week; a window ending before it starts is empty.
    assert week_count(monday + timedelta(days=6), monday + timedelta(weeks=1)) == 2
    assert week_count(monday + timedelta(weeks=2), monday) < 1
    # Across a year with 53 ISO weeks.
    assert week_count(date(2026, 12, 28), date(2027, 1, 4)) == 2


def test_free_hours_are_the_maximum_less_the_booked(db_session, make_factory):
    assert free_hours(D(40), D("12.5")) == D("27.5")
    # A re-match may hand out again what the proposals it replaces hold.
    assert free_hours(D(40), D(40), reclaimed_held=D(8)) == D(8)
    factory = make_factory(hours={"milling_5axis": [(2, "40", "12.5")]})
    bucket = db_session.exec(
        sa.select(CapacityBucket).where(
            CapacityBucket.factory_id == factory.id, CapacityBucket.point_in_time == week(2)
        )
    ).scalar_one()
    assert bucket.free_hours == D("27.5")
    in_sql = db_session.execute(
        sa.select(free_hours_sql(CapacityBucket)).where(CapacityBucket.id == bucket.id)
    ).scalar_one()
    assert in_sql == bucket.free_hours


def test_text_limits_are_the_columns(db_session, make_factory):
    assert text_limit(Factory, "name") == Factory.__table__.c.name.type.length == 200
    assert text_limit(Certification, "issuer") == 200
    with pytest.raises(ValueError):
        text_limit(Factory, "latitude")
    longest = "x" * text_limit(Factory, "region")
    details = FactoryDetails("Werk", "DE", longest, 48.0, 9.0)
    assert not check_factory_details(details)
    too_long = FactoryDetails("Werk", "DE", longest + "x", 48.0, 9.0)
    assert [f for f, _ in check_factory_details(too_long).items] == ["region"]
    factory = make_factory()
    with pytest.raises(FactoryError) as caught:
        suspend_factory(db_session, factory, "y" * (text_limit(Factory, "status_reason") + 1))
    assert caught.value.field == "reason"


def test_one_page_check_and_one_page_shape(db_session, make_factory):
    assert Page(["a"], total=101, page=1, per_page=50).pages == 3
    assert Page([], total=0, page=4, per_page=50).pages == 1
    assert not check_paging(1, 100, 100)
    assert [f for f, _ in check_paging(0, 101, 100).items] == ["page", "per_page"]
    assert [page_number(t) for t in (None, "", " 3 ", "1234567")] == [1, 1, 3, 1234567]
    # A page that is no page is said, never silently another page.
    for text in ("0", "-2", "x", "²", "1234567890", "9" * 5000):
        with pytest.raises(InputError) as refused:
            page_number(text)
        assert refused.value.field == "page"
    make_factory("Review Me", status="pending")
    page = factories_for_review(db_session, today=TODAY, status="pending")
    assert [e.factory.name for e in page.items] == ["Review Me"] and page.pages == 1
    assert factories_for_review(db_session, today=TODAY, status="pending", page=9).items == []
    with pytest.raises(FactoryError) as caught:
        factories_for_review(db_session, today=TODAY, page=0)
    assert caught.value.problems == [("page", "must be 1 or more")]
