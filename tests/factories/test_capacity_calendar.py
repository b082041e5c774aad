"""The capacity calendar: grid, edits, bulk fill, copy and close; never below booked."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from factories.capacity.booking import confirm, hold, release
from factories.capacity.bulk import close_week, copy_week, fill_capacity
from factories.capacity.calendar import (
    CALENDAR_WEEKS,
    CapacityChange,
    capacity_grid,
    is_stale,
    set_capacity,
)
from factories.capacity.hours import parse_hours
from factories.capacity.weeks import parse_week, weeks_from
from factories.errors import FactoryError
from factories.models import CapacityBucket, Factory
from tests.factories.conftest import NOW, THIS_WEEK, TODAY, capability_details, week

D = Decimal


def test_grid_has_every_resource_for_the_next_twelve_iso_weeks(db_session, make_factory):
    factory = make_factory(
        capabilities=[capability_details("milling_5axis"), capability_details("turning")],
        hours={"turning": [(3, "80", "30")]},
        weekly=None,
    )
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    assert grid.resources == ["milling_5axis", "turning"]
    assert len(grid.weeks) == CALENDAR_WEEKS == 12
    assert grid.weeks[0] == THIS_WEEK and all(w.weekday() == 0 for w in grid.weeks)
    cell = grid.cell("turning", week(3))
    assert (cell.maximum_hours, cell.booked_hours, cell.free_hours) == (D(80), D(30), D(50))
    assert not grid.cell("milling_5axis", week(3)).recorded
    assert grid.week_totals(week(3)).free_hours == D(50)


def test_maximum_below_booked_is_refused_saying_by_how_much(db_session, make_factory):
    factory = make_factory(hours={"milling_5axis": [(2, "40", "32.5")]})
    with pytest.raises(FactoryError) as caught:
        set_capacity(
            db_session,
            factory,
            [
                CapacityChange("milling_5axis", week(1), D(10)),
                CapacityChange("milling_5axis", week(2), D(20), field="cell-2"),
            ],
            TODAY,
            NOW,
        )
    assert caught.value.field == "cell-2"
    assert "32.5 h are already booked" in caught.value.message
    assert "12.5 h too little" in caught.value.message
    # All or nothing: week 1 kept its 40 hours.
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    assert grid.cell("milling_5axis", week(1)).maximum_hours == D(40)


def test_past_weeks_unknown_resources_and_odd_values_are_refused(db_session, make_factory):
    factory = make_factory()
    bad = [
        CapacityChange("milling_5axis", THIS_WEEK - timedelta(weeks=1), D(10), week_field="a"),
        CapacityChange("turning", week(1), D(10), field="b"),
        CapacityChange("milling_5axis", week(2) + timedelta(days=1), D(10), week_field="c"),
        CapacityChange("milling_5axis", week(3), D(-1), field="d"),
        CapacityChange("milling_5axis", week(4), D(10), D(11), actual_field="e"),
    ]
    with pytest.raises(FactoryError) as caught:
        set_capacity(db_session, factory, bad, TODAY, NOW)
    assert [f for f, _ in caught.value.problems] == ["a", "b", "c", "d", "e"]


def test_bulk_fill_forty_hours_for_eight_weeks(db_session, make_factory):
    factory = make_factory(
        capabilities=[capability_details("milling_5axis"), capability_details("turning")],
        weekly=None,
    )
    fill_capacity(db_session, factory, D(40), week(2), 8, TODAY, NOW, resources=["turning"])
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    filled = [w for w in grid.weeks if grid.cell("turning", w).maximum_hours == D(40)]
    assert filled == [week(n) for n in range(2, 10)]
    assert all(grid.cell("milling_5axis", w).maximum_hours == 0 for w in grid.weeks)
    assert factory.capacity_updated_at == NOW


def test_bulk_fill_refuses_when_a_week_is_booked_beyond_it(db_session, make_factory):
    factory = make_factory(hours={"milling_5axis": [(5, "60", "52.5")]})
    with pytest.raises(FactoryError) as caught:
        fill_capacity(db_session, factory, D(40), week(0), 8, TODAY, NOW)
    assert caught.value.field == "hours"
    assert "12.5 h too little" in caught.value.message
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    assert grid.cell("milling_5axis", week(5)).maximum_hours == D(60)


def test_copy_a_week_to_others(db_session, make_factory):
    factory = make_factory(
        capabilities=[capability_details("milling_5axis"), capability_details("turning")],
        hours={"milling_5axis": [(1, "72", "0")], "turning": [(1, "16", "0")]},
        weekly="40",
    )
    copy_week(db_session, factory, week(1), [week(4), week(6)], TODAY, NOW)
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    for target in (week(4), week(6)):
        assert grid.cell("milling_5axis", target).maximum_hours == D(72)
        assert grid.cell("turning", target).maximum_hours == D(16)
    assert grid.cell("turning", week(5)).maximum_hours == D(40)
    with pytest.raises(FactoryError) as caught:
        copy_week(db_session, factory, week(1), [week(1)], TODAY, NOW)
    assert caught.value.field == "target_weeks"


def test_close_a_week_keeps_what_is_booked(db_session, make_factory):
    factory = make_factory(
        capabilities=[capability_details("milling_5axis"), capability_details("turning")],
        hours={"milling_5axis": [(3, "40", "12")]},
    )
    kept = close_week(db_session, factory, week(3), TODAY, NOW)
    assert kept == D(12)
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    assert grid.cell("milling_5axis", week(3)).maximum_hours == D(12)
    assert grid.cell("milling_5axis", week(3)).free_hours == 0
    assert grid.cell("turning", week(3)).maximum_hours == 0


def test_stale_after_fourteen_days_without_a_capacity_change(db_session, make_factory):
    factory = make_factory()
    assert not is_stale(factory, NOW + timedelta(days=14))
    assert is_stale(factory, NOW + timedelta(days=14, minutes=1))
    factory.capacity_updated_at = None
    assert is_stale(factory, NOW)


def test_hours_and_weeks_parse_strictly():
    assert parse_hours("40.5") == D("40.50")
    with pytest.raises(ValueError, match="two decimal places"):
        parse_hours("1.005")
    with pytest.raises(ValueError):
        parse_hours("forty")
    with pytest.raises(ValueError, match="between 0 and 10000 hours"):
        parse_hours("1e999")  # beyond the decimal context: a message, not InvalidOperation
    assert parse_week("2026-W48") == parse_week("2026-11-26") == THIS_WEEK
    with pytest.raises(ValueError):
        parse_week("week 48")


LAST_WEEK = date(9999, 12, 27)  # 9999-W52, the last ISO week Python's dates can hold


def test_weeks_past_the_end_of_the_calendar_are_refused_once_at_the_field(db_session, make_factory):
    assert weeks_from(LAST_WEEK, 1) == [LAST_WEEK]
    with pytest.raises(FactoryError) as caught:
        weeks_from(LAST_WEEK + timedelta(days=3), 2, "week_from")
    assert caught.value.problems == [
        ("week_from", "2 weeks from 9999-W52 run past the end of the calendar")
    ]
    factory = make_factory()
    with pytest.raises(FactoryError) as caught:
        capacity_grid(db_session, factory, TODAY, NOW, first_week=LAST_WEEK, week_field="from")
    assert caught.value.field == "from" and "12 weeks from 9999-W52" in caught.value.message
    assert capacity_grid(db_session, factory, TODAY, NOW, weeks=1, first_week=LAST_WEEK).weeks == [
        LAST_WEEK
    ]

    # Bulk fill says it once, at the first week, together with the other problems.
    with pytest.raises(FactoryError) as caught:
        fill_capacity(db_session, factory, D(-1), LAST_WEEK, 2, TODAY, NOW)
    assert caught.value.problems == [
        ("hours", "must be between 0 and 10000 hours"),
        ("first_week", "2 weeks from 9999-W52 run past the end of the calendar"),
    ]
    # Copy and close take single weeks: the last one can be read, but is too far ahead to
    # change.
    copy_week(db_session, factory, LAST_WEEK, [week(1)], TODAY, NOW)
    assert (
        capacity_grid(db_session, factory, TODAY, NOW).cell("milling_5axis", week(1)).maximum_hours
        == 0
    )
    with pytest.raises(FactoryError) as caught:
        copy_week(db_session, factory, week(1), [LAST_WEEK], TODAY, NOW)
    assert caught.value.field == "target_weeks" and "two years ahead" in caught.value.message
    with pytest.raises(FactoryError) as caught:
        close_week(db_session, factory, LAST_WEEK, TODAY, NOW)
    assert caught.value.field == "week" and "two years ahead" in caught.value.message


def test_bookings_add_up_to_the_cent_on_sqlite(tmp_path):
    """SQLite keeps hours as floats: 14.6 + 14.6 - 14.6 must still hold 14.6 hours."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/b.db")
    SQLModel.metadata.create_all(engine, tables=[Factory.__table__, CapacityBucket.__table__])
    with Session(engine) as session:
        factory = Factory(
            organization_id=1, name="Shop", country="DE", region="Bayern", city="Munich",
            latitude=48.1, longitude=11.6,
        )  # fmt: skip
        session.add(factory)
        session.flush()
        bucket = CapacityBucket(
            factory_id=factory.id, resource="milling_3axis", point_in_time=date(2026, 11, 30),
            maximum_hours=Decimal("40"), actual_hours=Decimal("40"),
        )  # fmt: skip
        session.add(bucket)
        session.flush()
        for hours in ("14.6", "14.6", "0.1", "0.2"):
            assert hold(session, bucket.id, Decimal(hours))
        release(session, bucket.id, Decimal("14.6"))
        release(session, bucket.id, Decimal("0.1"))
        confirm(session, bucket.id, Decimal("0.2"))
        confirm(session, bucket.id, Decimal("14.6"))
        session.refresh(bucket)
        assert Decimal(str(bucket.booked_hours)) == Decimal("14.8")
        assert Decimal(str(bucket.held_hours)) == 0
    engine.dispose()
