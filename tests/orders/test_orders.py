"""Item 1: buyers post orders (web form and API) with one or more lines; bad input names
its field; the order moves only along the transition table, and an invalid move answers
409 with the allowed states (API) or a message (web)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import Order, OrderLine, OrderState
from marketplace.orders.transitions import TRANSITIONS

DUE = (utcnow().date() + timedelta(weeks=4)).isoformat()


def order_json(**overrides):
    body = {
        "title": "Pump housings",
        "due_date": DUE,
        "delivery_country": "DE",
        "delivery_city": "Stuttgart",
        "delivery_latitude": 48.78,
        "delivery_longitude": 9.18,
        "budget_minor": 2_000_000,
        "currency": "EUR",
        "min_credit": 0.5,
        "lines": [
            {
                "process_code": "milling_3axis",
                "material": "aluminium",
                "quantity": 40,
                "hours": "32.5",
                "length_mm": 220,
                "width_mm": 120,
                "height_mm": 60,
                "tolerance_class": "ISO 2768-f",
                "certifications_required": ["ISO9001"],
                "splittable": True,
            },
            {
                "process_code": "anodizing",
                "material": "aluminium",
                "quantity": 40,
                "hours_per_part": "0.125",
            },
        ],
    }
    body.update(overrides)
    return body


def test_buyer_posts_an_order_with_lines_through_the_api(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    response = browser.api("POST", "/api/v1/orders", json=order_json(submit=True))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["state"] == "open"
    assert body["budget_minor"] == 2_000_000
    assert [line["hours"] for line in body["lines"]] == ["32.50", "5.00"]  # 40 x 0.125 h
    assert body["lines"][1]["hours_per_part"] == "0.1250"
    assert body["lines"][0]["certifications_required"] == ["ISO9001"]
    assert sorted(body["allowed_transitions"]) == ["cancelled", "matching"]

    order = db_session.get(Order, body["id"])
    assert order.buyer_organization_id == buyer.organization.id
    assert len(db_session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()) == 2
    listed = browser.get("/api/v1/orders").get_json()["orders"]
    assert [o["id"] for o in listed] == [order.id]


def test_bad_fields_are_named_each_one(browser, make_member):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    bad = order_json(
        due_date=(utcnow().date() - timedelta(days=1)).isoformat(),
        min_credit=1.5,
        lines=[
            {"process_code": "milling_3axis", "material": "fr4", "quantity": 0, "hours": "3"},
            {"process_code": "teleport", "material": "steel", "quantity": 1},
            {
                "process_code": "turning",
                "material": "steel",
                "quantity": 1,
                "hours": "2",
                "certifications_required": ["ISO9999"],
            },
        ],
    )
    response = browser.api("POST", "/api/v1/orders", json=bad)
    assert response.status_code == 422
    fields = {f["field"] for f in response.get_json()["fields"]}
    assert {
        "due_date",
        "min_credit",
        "lines[0].material",
        "lines[0].quantity",
        "lines[1].process_code",
        "lines[1].hours",
        "lines[2].certifications_required[0]",
    } <= fields
    # Type errors are caught before the service, still naming the field.
    response = browser.api("POST", "/api/v1/orders", json=order_json(delivery_latitude="north"))
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "delivery_latitude"


def test_extreme_amounts_are_stored_or_named_never_a_server_error(browser, make_member, db_session):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    # Past 2**31 minor units is an ordinary budget in a currency without minor units.
    large = browser.api(
        "POST", "/api/v1/orders", json=order_json(budget_minor=30_000_000_000, currency="KRW")
    )
    assert large.status_code == 201, large.get_json()
    assert db_session.get(Order, large.get_json()["id"]).budget_minor == 30_000_000_000
    one_line = order_json()["lines"][0]
    for body, field in [
        (order_json(budget_minor=10**30), "budget_minor"),
        (order_json(lines=[{**one_line, "hours": "0.001"}]), "lines[0].hours"),
        (
            order_json(
                lines=[{**one_line, "hours": None, "quantity": 1, "hours_per_part": "1e-4"}]
            ),
            "lines[0].hours_per_part",
        ),
    ]:
        response = browser.api("POST", "/api/v1/orders", json=body)
        assert response.status_code == 422, (field, response.get_data(as_text=True))
        assert field in {f["field"] for f in response.get_json()["fields"]}


def test_codes_with_a_trailing_newline_are_named_never_stored(browser, make_member, db_session):
    """`^[A-Z]{2}$` also matches "DE\n": two letters and nothing else, or the field."""
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    for body, field in [
        (order_json(delivery_country="DE\n"), "delivery_country"),
        (order_json(delivery_country="de\n"), "delivery_country"),
        (order_json(currency="EUR\n"), "currency"),
        (order_json(currency="EURO"), "currency"),
    ]:
        response = browser.api("POST", "/api/v1/orders", json=body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
        assert [f["field"] for f in response.get_json()["fields"]] == [field]
    assert db_session.exec(select(Order)).all() == []


def test_invalid_transition_is_409_with_the_allowed_states(browser, make_member):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    order = browser.api("POST", "/api/v1/orders", json=order_json()).get_json()
    assert order["state"] == "draft"
    response = browser.api("POST", f"/api/v1/orders/{order['id']}/deliver")
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "invalid_transition"
    assert body["state"] == "draft" and body["target"] == "delivered"
    assert body["allowed"] == sorted(TRANSITIONS[OrderState.DRAFT]) == ["cancelled", "open"]

    assert browser.api("POST", f"/api/v1/orders/{order['id']}/submit").get_json()["state"] == "open"
    response = browser.api("POST", f"/api/v1/orders/{order['id']}/submit")
    assert response.status_code == 409
    assert response.get_json()["allowed"] == ["cancelled", "matching"]
    cancelled = browser.api("POST", f"/api/v1/orders/{order['id']}/cancel").get_json()
    assert cancelled["state"] == "cancelled" and cancelled["allowed_transitions"] == []


def test_every_state_has_a_row_and_only_known_targets():
    assert set(TRANSITIONS) == set(OrderState)
    for targets in TRANSITIONS.values():
        assert targets <= set(OrderState)
    assert TRANSITIONS[OrderState.CLOSED] == TRANSITIONS[OrderState.CANCELLED] == frozenset()


def form_data(**overrides):
    data = {
        "title": "Gearbox covers",
        "due_date": DUE,
        "delivery_country": "IT",
        "delivery_city": "Milan",
        "delivery_latitude": "45.46",
        "delivery_longitude": "9.19",
        "budget": "12500.50",
        "currency": "EUR",
        "min_credit": "0.3",
        "lines-0-process_code": "turning",
        "lines-0-material": "steel",
        "lines-0-quantity": "100",
        "lines-0-hours_per_part": "0.2",
        "lines-0-length_mm": "80",
        "lines-0-width_mm": "80",
        "lines-0-height_mm": "120",
        "lines-0-tolerance_class": "ISO 2768-m",
        "lines-0-certifications_required": ["ISO9001", "IATF16949"],
        "lines-0-splittable": "y",
    }
    data.update(overrides)
    return data


def test_buyer_posts_an_order_with_the_web_form(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    page = browser.get("/orders/new")
    assert page.status_code == 200
    assert 'name="lines-0-process_code"' in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert '<ul class="checkboxes" id="lines-0-certifications_required">' in html
    assert 'aria-invalid="None"' not in html and 'aria-describedby="None"' not in html

    # "Add a line" re-renders the form with one more line, keeping what was typed.
    more = browser.form("/orders/new", {**form_data(), "add_line": "1"})
    html = more.get_data(as_text=True)
    assert 'name="lines-1-process_code"' in html and 'value="Gearbox covers"' in html

    response = browser.form(
        "/orders/new",
        {
            **form_data(),
            "lines-1-process_code": "anodizing",
            "lines-1-material": "aluminium",
            "lines-1-quantity": "100",
            "lines-1-hours": "4",
            "lines-1-length_mm": "80",
            "lines-1-width_mm": "80",
            "lines-1-height_mm": "120",
            "lines-1-tolerance_class": "ISO 2768-c",
            "post": "1",
        },
    )
    assert response.status_code == 303
    order = db_session.exec(
        select(Order).where(Order.buyer_organization_id == buyer.organization.id)
    ).one()
    assert order.state == OrderState.OPEN
    assert order.delivery_country == "IT"
    assert order.budget_minor == 1_250_050
    lines = db_session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    assert [str(line.hours) for line in sorted(lines, key=lambda x: x.line_no)] == ["20.00", "4.00"]
    assert sorted(lines[0].certifications_required) == ["IATF16949", "ISO9001"]
    detail = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Gearbox covers" in detail and "Match this order" in detail


def test_web_form_shows_errors_next_to_the_fields(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    response = browser.form(
        "/orders/new",
        form_data(**{"lines-0-material": "fr4", "lines-0-hours": "3", "save_draft": "1"}),
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="lines-0-material-errors"' in html
    assert "FR-4 laminate cannot be made by CNC turning" in html  # labels, not codes
    assert 'id="lines-0-hours-errors"' in html  # both hours and hours per part given
    assert db_session.exec(select(Order)).all() == []


def test_web_budget_is_read_in_the_currencys_own_minor_units(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    for budget, currency, message in [
        ("1e400", "EUR", "must be at most €10,000,000,000,000.00"),  # money, not minor units
        ("12500.50", "JPY", "more than 0 decimal places for JPY"),
    ]:
        response = browser.form("/orders/new", form_data(budget=budget, currency=currency))
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert 'id="budget-errors"' in html and message in html
    response = browser.form("/orders/new", form_data(budget="150000", currency="JPY", post="1"))
    assert response.status_code == 303
    order = db_session.exec(
        select(Order).where(Order.buyer_organization_id == buyer.organization.id)
    ).one()
    assert (order.budget_minor, order.currency) == (150_000, "JPY")
    assert "¥150,000" in browser.get(response.headers["Location"]).get_data(as_text=True)


def test_web_form_errors_speak_the_readers_language(browser, make_member):
    from factories.taxonomy import MATERIALS, PROCESSES

    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    browser.get("/lang/zh")
    response = browser.form(
        "/orders/new",
        form_data(**{"lines-0-material": "fr4", "lines-0-length_mm": "0", "save_draft": "1"}),
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"{MATERIALS['fr4'].zh} 无法用{PROCESSES['turning'].zh}制造" in html
    assert "必须在 1 到 100000 之间" in html.split('id="lines-0-length_mm-errors"')[1]
    assert "cannot be made" not in html and "must be between" not in html
    # The lines' own form checks speak Chinese too.
    response = browser.form("/orders/new", form_data(**{"lines-0-quantity": "0"}))
    errors = response.get_data(as_text=True).split('id="lines-0-quantity-errors"')[1]
    assert "Number must be at least" not in errors.split("</ul>")[0]


def test_web_invalid_transition_flashes_the_allowed_states(browser, make_member):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    order = browser.api("POST", "/api/v1/orders", json=order_json()).get_json()
    response = browser.form(f"/orders/{order['id']}/close", {})
    assert response.status_code == 303
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot become closed" in page
    assert "Possible next states: cancelled, open" in page


def test_factories_and_other_buyers_cannot_post_or_see(browser, new_browser, make_member):
    owner = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(owner)
    order = browser.api("POST", "/api/v1/orders", json=order_json()).get_json()

    other = new_browser()
    other.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    assert other.get(f"/api/v1/orders/{order['id']}").status_code == 404
    assert other.get(f"/orders/{order['id']}").status_code == 404
    assert other.api("POST", f"/api/v1/orders/{order['id']}/submit").status_code == 404
    assert other.form(f"/orders/{order['id']}/cancel", {}).status_code == 404
    assert other.get("/api/v1/orders").get_json()["orders"] == []

    factory = new_browser()
    factory.login(make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER))
    assert factory.api("POST", "/api/v1/orders", json=order_json()).status_code == 404
    assert factory.get(f"/api/v1/orders/{order['id']}").status_code == 404
    assert factory.get("/orders/new").status_code == 403


def test_an_order_goes_out_only_in_a_currency_factories_quote_in(
    browser, make_member, make_shop, db_session
):
    make_shop()  # a verified factory quoting in euros
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    page = browser.get("/orders/new").get_data(as_text=True)
    select = page.split('name="currency"')[1].split("</select>")[0]
    assert '<option selected value="EUR">EUR — Euro</option>' in select
    assert 'value="CNY"' not in select
    refused = browser.api("POST", "/api/v1/orders", json={**order_json(currency="CNY")})
    if refused.status_code == 201:  # posted as a draft: submitting it is what is refused
        order_id = refused.get_json()["id"]
        refused = browser.api("POST", f"/api/v1/orders/{order_id}/submit")
    assert refused.status_code == 422
    [problem] = refused.get_json()["fields"]
    assert problem["field"] == "currency"
    assert problem["message"] == (
        "no verified factory quotes in CNY; the factories here quote in EUR"
    )
    response = browser.form("/orders/new", form_data(currency="CNY", post="1"))
    assert response.status_code == 400
    assert "no verified factory quotes in CNY" in response.get_data(as_text=True)
