"""Buyer search on the page and in the API."""

from tests.factories.conftest import capability_details
from tests.supply.conftest import week


def test_api_search_with_filters_reasons_and_pages(browser, buyer, live_factory, db_session):
    for i in range(5):
        live_factory(
            f"Mill {i}",
            capabilities=[capability_details("milling_5axis", hourly_rate_minor=8000 + 500 * i)],
            weekly=str(20 + 10 * i),
        )
    live_factory("Lathe", capabilities=[capability_details("turning", materials=("steel",))])
    live_factory("Pending Mill", status="pending")
    db_session.commit()
    browser.login(buyer)
    response = browser.get(
        "/api/v1/factories",
        query_string={
            "process": "milling",
            "material": "aluminium",
            "certification": "ISO9001",
            "week_from": week(0).isoformat(),
            "week_to": week(1).isoformat(),
            "min_free_hours": 50,
            "per_page": 2,
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # Mill 0 has 2 x 20 = 40 free hours: below the asked 50.
    assert body["total"] == 4 and body["pages"] == 2 and len(body["results"]) == 2
    first = body["results"][0]
    assert first["name"] == "Mill 4"  # most free hours
    kinds = [r["kind"] for r in first["reasons"]]
    assert kinds[:3] == ["process", "material", "certification"]
    process = first["reasons"][0]
    assert process["text"] == "Offers CNC milling, 5-axis, which can do CNC milling work"
    free = next(r for r in first["reasons"] if r["kind"] == "free_hours")
    assert free["data"]["hours"] == 120.0 and "(asked at least 50)" in free["text"]
    second_page = browser.get(
        "/api/v1/factories",
        query_string={
            "process": "milling",
            "min_free_hours": 50,
            "week_from": week(0).isoformat(),
            "week_to": week(1).isoformat(),
            "per_page": 2,
            "page": 2,
        },
    ).get_json()
    assert {r["name"] for r in second_page["results"]}.isdisjoint(
        {r["name"] for r in body["results"]}
    )


def test_api_search_errors_name_the_filter(browser, buyer):
    browser.login(buyer)
    response = browser.get(
        "/api/v1/factories", query_string={"process": "knitting", "week_from": "someday"}
    )
    assert response.status_code == 422
    assert {p["field"] for p in response.get_json()["fields"]} == {"week_from", "process"}
    response = browser.get("/api/v1/factories", query_string={"min_credit": 3})
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "min_credit"
    # Beyond PostgreSQL's integer range: still a named 4xx, also on the page.
    response = browser.get("/api/v1/factories", query_string={"min_width_mm": 2**31})
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "min_width_mm"
    page = browser.get("/supply/search", query_string={"min_width_mm": 10**20})
    assert page.status_code == 400
    assert "100000 mm" in page.get_data(as_text=True)


def test_search_page_lists_reasons_in_the_buyers_language(browser, buyer, live_factory, db_session):
    live_factory("Mill A", region="Lombardy", country="IT", latitude=45.46, longitude=9.19)
    live_factory("Mill B")
    db_session.commit()
    browser.login(buyer)
    page = browser.get("/supply/search").get_data(as_text=True)
    assert 'id="search-form"' in page and "Lombardy (IT)" in page
    response = browser.get(
        "/supply/search",
        query_string={
            "process": "milling_3axis",
            "region": "Lombardy",
            "near_latitude": "45.5",
            "near_longitude": "9.2",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    results = page.split('id="search-results"')[1]
    assert "Mill A" in results and "Mill B" not in results
    assert "which can do CNC milling, 3-axis work" in results and "km from you" in results
    zh = browser.get(
        "/supply/search",
        query_string={"process": "milling_3axis"},
        headers={"Accept-Language": "zh-CN"},
    ).get_data(as_text=True)
    assert "五轴数控铣削" in zh.split('id="search-results"')[1]
    bad = browser.get("/supply/search", query_string={"week_from": "2026-W60"})
    assert bad.status_code == 400 and 'id="week_from-errors"' in bad.get_data(as_text=True)


def test_a_week_window_past_the_end_of_the_calendar_is_named(browser, buyer):
    browser.login(buyer)
    response = browser.get("/api/v1/factories", query_string={"week_from": "9999-W52"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == [
        {"field": "week_from", "message": "4 weeks from 9999-W52 run past the end of the calendar"}
    ]
    response = browser.get(
        "/api/v1/factories", query_string={"week_from": "9999-W52", "week_to": "9999-W52"}
    )
    assert response.status_code == 200 and response.get_json()["week_to"] == "9999-W52"
    page = browser.get("/supply/search", query_string={"week_from": "9999-W52"})
    assert page.status_code == 400
    errors = page.get_data(as_text=True).split('id="week_from-errors"')[1].split("</")[0]
    assert "4 weeks from 9999-W52 run past the end of the calendar" in errors
    zh = browser.get(
        "/supply/search",
        query_string={"week_from": "9999-W52"},
        headers={"Accept-Language": "zh-CN"},
    ).get_data(as_text=True)
    assert "从 9999-W52 起的 4 周超出了日历的末尾" in zh
