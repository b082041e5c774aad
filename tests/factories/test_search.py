"""Buyer search: each filter, only verified factories, ranking by fit, reasons, pages."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from factories.capacity.weeks import week_label
from factories.errors import FactoryError
from factories.fit import Need, distance_km, fits
from factories.models import Capability
from factories.search.filters import SearchFilters
from factories.search.service import search_factories
from tests.factories.conftest import TODAY, capability_details, certification_details, week


def names(page):
    return [r.name for r in page.results]


@pytest.fixture
def cluster(make_factory):
    """Five factories that differ in one respect each from the 'Best' one."""
    return {
        "best": make_factory(
            "Best Milling",
            capabilities=[capability_details("milling_5axis", hourly_rate_minor=8000)],
            weekly="60",
            credit=0.95,
        ),
        "plain": make_factory(
            "Plain Milling",
            capabilities=[
                capability_details(
                    "milling", materials=("steel",), max_length_mm=300, hourly_rate_minor=7000
                )
            ],
            certifications=[
                certification_details("ISO9001", valid_until=TODAY - timedelta(days=1))
            ],
            weekly="20",
            credit=0.6,
            region="Lombardy",
            country="IT",
            latitude=45.46,
            longitude=9.19,
        ),
        "busy": make_factory(
            "Busy Milling",
            capabilities=[capability_details("milling_3axis")],
            hours={"milling_3axis": [(n, "40", "40") for n in range(4)]},
            credit=0.9,
        ),
        "pending": make_factory("Pending Milling", status="pending"),
        "turning": make_factory(
            "Turning Only", capabilities=[capability_details("turning", materials=("steel",))]
        ),
    }


def test_only_verified_factories_are_found(db_session, cluster):
    page = search_factories(db_session, SearchFilters(), TODAY)
    assert "Pending Milling" not in names(page)
    assert page.total == 4


def test_process_includes_its_specializations(db_session, cluster):
    page = search_factories(db_session, SearchFilters(process="milling"), TODAY)
    assert set(names(page)) == {"Best Milling", "Plain Milling", "Busy Milling"}
    best = next(r for r in page.results if r.name == "Best Milling")
    process = next(r for r in best.reasons if r.kind == "process")
    assert process.data["specialized"] == ["milling_5axis"]
    five_axis = search_factories(db_session, SearchFilters(process="milling_5axis"), TODAY)
    assert names(five_axis) == ["Best Milling"]


def test_material_envelope_tolerance_region_and_credit_filters(db_session, cluster):
    def found(**filters):
        return set(names(search_factories(db_session, SearchFilters(**filters), TODAY)))

    assert found(process="milling", material="steel") == {"Plain Milling"}
    # Plain Milling's envelope is 300 x 600 x 400: its longest side is short of 700 mm.
    assert found(process="milling", min_length_mm=700) == {"Best Milling", "Busy Milling"}
    assert found(min_length_mm=800, min_width_mm=601) == set()
    assert found(region="Lombardy") == {"Plain Milling"}
    assert found(country="it") == {"Plain Milling"}
    assert found(min_credit=0.9) == {"Best Milling", "Busy Milling"}
    assert found(tolerance_class="ISO 2768-m", process="turning") == {"Turning Only"}


def test_a_part_that_fits_only_turned_is_found(db_session, cluster):
    # Plain Milling (300 x 600 x 400) takes a 500 mm long part turned on its side, as
    # matching eligibility would; search must not hide it.
    page = search_factories(db_session, SearchFilters(process="milling", min_length_mm=500), TODAY)
    assert set(names(page)) == {"Best Milling", "Plain Milling", "Busy Milling"}
    plain = next(r for r in page.results if r.name == "Plain Milling")
    envelope = next(r for r in plain.reasons if r.kind == "envelope")
    assert envelope.data == {"envelope": [300, 600, 400], "requested": [500, 0, 0]}
    assert fits(
        Capability(max_length_mm=300, max_width_mm=600, max_height_mm=400), Need((500, None, None))
    )
    # No orientation takes 650 x 450 x 350 into 300 x 600 x 400.
    turned = SearchFilters(
        process="milling", min_length_mm=350, min_width_mm=650, min_height_mm=450
    )
    assert set(names(search_factories(db_session, turned, TODAY))) == {
        "Best Milling",
        "Busy Milling",
    }


def test_certification_must_be_valid_today(db_session, cluster):
    page = search_factories(
        db_session, SearchFilters(process="milling", certification="ISO9001"), TODAY
    )
    # Plain Milling's ISO 9001 expired yesterday.
    assert set(names(page)) == {"Best Milling", "Busy Milling"}
    reason = next(r for r in page.results[0].reasons if r.kind == "certification")
    assert reason.data["certification"] == "ISO9001"
    assert reason.data["valid_until"] > TODAY


def test_free_hours_in_the_week_window(db_session, cluster):
    window = {"week_from": week(0), "week_to": week(3)}
    page = search_factories(
        db_session, SearchFilters(process="milling", min_free_hours=Decimal(100), **window), TODAY
    )
    # Busy Milling is sold out in weeks 0-3; Plain has 4 x 20 = 80 free.
    assert names(page) == ["Best Milling"]
    assert page.results[0].free_hours == Decimal(240)
    later = search_factories(
        db_session,
        SearchFilters(
            process="milling_3axis", min_free_hours=Decimal(1), week_from=week(4), week_to=week(5)
        ),
        TODAY,
    )
    # 5-axis milling can do 3-axis work, so Best Milling is found too.
    assert set(names(later)) == {"Best Milling", "Busy Milling"}
    busy = next(r for r in later.results if r.name == "Busy Milling")
    reason = next(r for r in busy.reasons if r.kind == "free_hours")
    assert reason.data["hours"] == Decimal(80)
    assert (reason.data["week_from"], reason.data["week_to"]) == (
        week_label(week(4)),
        week_label(week(5)),
    )


def test_ranking_by_fit_and_distance(db_session, cluster):
    page = search_factories(db_session, SearchFilters(process="milling"), TODAY)
    # Most free hours and best credit outweigh Plain's lower price.
    assert names(page) == ["Best Milling", "Plain Milling", "Busy Milling"]
    assert page.results[0].score > page.results[1].score
    assert set(page.results[0].score_parts) == {"free_hours", "price", "credit"}
    milan = search_factories(
        db_session,
        SearchFilters(process="milling", near_latitude=45.46, near_longitude=9.19),
        TODAY,
    )
    plain = next(r for r in milan.results if r.name == "Plain Milling")
    assert plain.distance_km == 0.0 and plain.score_parts["distance"] == 1.0
    assert any(r.kind == "distance" for r in plain.reasons)


def test_pages(db_session, cluster):
    first = search_factories(db_session, SearchFilters(per_page=3), TODAY)
    second = search_factories(db_session, SearchFilters(per_page=3, page=2), TODAY)
    assert (first.total, first.pages, len(first.results), len(second.results)) == (4, 2, 3, 1)
    assert not set(names(first)) & set(names(second))


def test_bad_filters_are_named(db_session):
    with pytest.raises(FactoryError) as caught:
        search_factories(
            db_session,
            SearchFilters(
                process="knitting",
                certification="ISO1",
                week_from=week(3),
                week_to=week(1),
                min_credit=2,
                near_latitude=10,
                per_page=1000,
                min_length_mm=2**31,
                min_height_mm=0,
            ),
            TODAY,
        )
    assert {f for f, _ in caught.value.problems} == {
        "process",
        "certification",
        "min_length_mm",
        "min_height_mm",
        "week_to",
        "min_credit",
        "near_latitude",
        "per_page",
    }


def test_distance_is_a_great_circle():
    assert distance_km(48.78, 9.18, 45.46, 9.19) == pytest.approx(369, abs=2)


def test_search_distance_is_the_fit_rule(db_session, cluster):
    buyer = (52.52, 13.40)  # Berlin
    page = search_factories(
        db_session, SearchFilters(near_latitude=buyer[0], near_longitude=buyer[1]), TODAY
    )
    assert page.results
    for result in page.results:
        expected = distance_km(*buyer, result.latitude, result.longitude)
        assert result.distance_km == round(expected, 1)
        assert next(r for r in result.reasons if r.kind == "distance").data["km"] == round(
            expected, 1
        )


def test_a_window_past_the_end_of_the_calendar_is_named(db_session, cluster):
    last_week = date(9999, 12, 27)  # 9999-W52: four weeks from it leave Python's calendar
    with pytest.raises(FactoryError) as caught:
        search_factories(db_session, SearchFilters(week_from=last_week, per_page=0), TODAY)
    assert caught.value.problems == [
        ("week_from", "4 weeks from 9999-W52 run past the end of the calendar"),
        ("per_page", "must be from 1 to 100"),
    ]
    page = search_factories(
        db_session, SearchFilters(week_from=last_week, week_to=last_week), TODAY
    )
    assert (page.week_from, page.week_to) == (last_week, last_week)
    assert page.total == 4  # no free hours asked for, none needed
