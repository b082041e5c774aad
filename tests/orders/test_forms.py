"""Every problem of a form at once, with what was typed kept: the order form, milestones
(the note survives a refused upload), disputes and ratings; the place picker fills the
delivery place from a city; the API names every field in one answer."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html import unescape

from sqlmodel import select

from factories.models import utcnow
from marketplace.orders.models import Dispute, Milestone, Order
from tests.orders.conftest import order_input
from tests.orders.test_production import PDF, confirmed_order

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def errors_of(page: str) -> dict[str, list[str]]:
    """The messages under each field of a page: field id -> messages."""
    found = {}
    for field_id, items in re.findall(
        r'<ul class="field-error" id="([^"]+)-errors"[^>]*>(.*?)</ul>', page, re.S
    ):
        found[field_id] = [unescape(m).strip() for m in re.findall(r"<li>(.*?)</li>", items, re.S)]
    return found


def value_of(page: str, field_id: str) -> str:
    match = re.search(rf'<textarea[^>]*id="{field_id}"[^>]*>(.*?)</textarea>', page, re.S)
    if match:
        return unescape(match.group(1)).strip()
    match = re.search(rf'<input[^>]*id="{field_id}"[^>]*value="([^"]*)"', page)
    return unescape(match.group(1)) if match else ""


def order_form(**overrides: str) -> dict[str, str]:
    due = (utcnow().date() + timedelta(days=30)).isoformat()
    data = {
        "title": "Brackets",
        "due_date": due,
        "delivery_country": "DE",
        "delivery_city": "Stuttgart",
        "delivery_latitude": "48.78",
        "delivery_longitude": "9.18",
        "currency": "EUR",
        "min_credit": "0",
        "lines-0-process_code": "milling_3axis",
        "lines-0-material": "aluminium",
        "lines-0-quantity": "10",
        "lines-0-hours": "20",
        "lines-0-length_mm": "200",
        "lines-0-width_mm": "100",
        "lines-0-height_mm": "50",
        "lines-0-tolerance_class": "ISO 2768-m",
        "post": "Post order",
    }
    data.update(overrides)
    return data


def test_the_order_form_names_every_problem_at_once(browser, db_session, make_shop, buyer):
    make_shop()
    browser.login(buyer)
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    response = browser.form(
        "/orders/new",
        order_form(
            title="",  # the form's own check
            due_date=yesterday,  # the service's
            delivery_city="Nowhereville",  # the place's
            **{
                "lines-0-quantity": "0",  # the form's
                "lines-0-hours": "",  # the service's: neither hours nor hours per part
                "lines-0-length_mm": "0",  # the service's
                "min_credit": "7",  # the service's
            },
        ),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = errors_of(page)
    assert set(errors) >= {
        "title",
        "due_date",
        "delivery_city",
        "lines-0-quantity",
        "lines-0-hours",
        "lines-0-length_mm",
        "min_credit",
    }, errors
    assert errors["delivery_city"] == ["No city of this name in Germany: choose one from the list."]
    assert "must be after today" in errors["due_date"][0]
    # What was typed stays in the form.
    assert value_of(page, "delivery_city") == "Nowhereville"
    assert value_of(page, "title") == "" and value_of(page, "lines-0-length_mm") == "0"
    assert db_session.exec(select(Order)).all() == []


def test_a_city_fills_the_delivery_place(browser, db_session, make_shop, buyer):
    make_shop()
    browser.login(buyer)
    response = browser.form(
        "/orders/new",
        order_form(
            delivery_country="",
            delivery_city="Shenzhen, China",
            delivery_latitude="",
            delivery_longitude="",
        ),
    )
    assert response.status_code == 303, errors_of(response.get_data(as_text=True))
    order = db_session.exec(select(Order)).one()
    assert (order.delivery_country, order.delivery_city) == ("CN", "Shenzhen")
    assert (
        abs(order.delivery_latitude - 22.55) < 0.1 and abs(order.delivery_longitude - 114.07) < 0.1
    )

    # Without a city, the coordinates are needed, and say so.
    response = browser.form(
        "/orders/new",
        order_form(delivery_city="", delivery_latitude="", delivery_longitude=""),
    )
    errors = errors_of(response.get_data(as_text=True))
    assert "Choose a city, click on the map" in errors["delivery_latitude"][0]
    assert "delivery_longitude" in errors


def test_the_city_picker_answers_in_both_languages(browser):
    found = browser.get("/places/cities?q=shenz").get_json()
    assert found[0]["name"] == "Shenzhen" and found[0]["country"] == "CN"
    assert found[0]["label"] == "Shenzhen, China"
    assert abs(found[0]["latitude"] - 22.55) < 0.1
    browser.get("/lang/zh")
    found = browser.get("/places/cities?q=%E6%B7%B1%E5%9C%B3").get_json()  # 深圳
    assert found[0]["label"] == "深圳 (Shenzhen), 中国"
    assert browser.get("/places/cities?q=m%C3%BCnch").get_json()[0]["country_name"] == "德国"
    near = browser.get("/places/nearest?latitude=48.77&longitude=9.17").get_json()
    assert near["country"] == "DE" and "Stuttgart" in near["name"]
    assert browser.get("/places/nearest?latitude=0&longitude=-30").get_json() is None  # ocean
    refused = browser.get("/places/nearest?latitude=91&longitude=x")
    assert refused.status_code == 422
    assert [f["field"] for f in refused.get_json()["fields"]] == ["latitude", "longitude"]
    world = browser.get("/places/map.json").get_json()
    assert world["degrees"] == 1.0 and len(world["cells"]) > 3000


def test_the_order_page_offers_the_place_picker(browser, make_shop, buyer):
    make_shop()
    browser.login(buyer)
    page = browser.get("/orders/new").get_data(as_text=True)
    assert "data-place-picker" in page and 'list="delivery_city-cities"' in page
    assert "/static/places.js" in page and "<script>" not in page
    # The title's limit is shown.
    assert 'maxlength="200"' in page and "At most 200 characters." in page


def test_the_milestone_note_survives_a_refused_upload(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    factory = new_browser()
    factory.login(shop.owner)
    factory.form(f"/orders/{order.id}/milestones", {"kind": "started"})
    note = "Bores measured twice; report attached."
    response = factory.form(
        f"/orders/{order.id}/milestones",
        {
            "kind": "qa_passed",
            "note": note,
            "carrier": "C" * 81,  # too long, with the upload's problem
            # A program renamed to look like a report: refused by its content.
            "documents": [(io.BytesIO(PDF), "qa.pdf"), (io.BytesIO(EXE), "report.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = errors_of(page)
    assert errors["documents"] == ["only PDF, PNG, JPEG, plain text and CSV files are accepted"]
    assert len(errors["carrier"]) == 1 and "80 characters" in errors["carrier"][0]
    assert value_of(page, "note") == note
    assert 'value="qa_passed" selected' in page or 'selected value="qa_passed"' in page
    assert db_session.exec(select(Milestone).where(Milestone.kind == "qa_passed")).all() == []


def test_a_dispute_names_every_problem_and_keeps_its_reason(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    factory = new_browser()
    factory.login(shop.owner)
    factory.form(f"/orders/{order.id}/milestones", {"kind": "started"})
    browser.login(buyer)
    response = browser.form(
        f"/orders/{order.id}/dispute",
        {"reason": "", "evidence": [(io.BytesIO(EXE), "photo.png")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    errors = errors_of(response.get_data(as_text=True))
    assert set(errors) == {"reason", "evidence"}, errors

    reason = "Bores out of tolerance " + "x" * 3990  # too long by some characters
    response = browser.form(
        f"/orders/{order.id}/dispute",
        {"reason": reason, "evidence": [(io.BytesIO(EXE), "photo.png")]},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert set(errors_of(page)) == {"reason", "evidence"}
    assert value_of(page, "reason") == reason
    assert db_session.exec(select(Dispute)).all() == []


def test_the_api_names_every_field_at_once(browser, make_shop, buyer):
    make_shop()
    browser.login(buyer)
    data = order_input()
    body = {
        "title": "",
        "due_date": (utcnow().date() - timedelta(days=1)).isoformat(),
        "delivery_country": "DE",
        "delivery_latitude": 95,
        "delivery_longitude": data.delivery_longitude,
        "min_credit": 3,
        "lines": [
            {
                "process_code": "milling_3axis",
                "material": "aluminium",
                "quantity": 0,
                "length_mm": 10,
                "width_mm": 10,
                "height_mm": 10,
            }
        ],
    }
    response = browser.api("POST", "/api/v1/orders", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    fields = {f["field"] for f in response.get_json()["fields"]}
    assert fields >= {
        "title",
        "due_date",
        "delivery_latitude",
        "min_credit",
        "lines[0].quantity",
        "lines[0].hours",
    }, fields
