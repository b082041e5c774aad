"""A NUL character anywhere in the input (JSON body, query, form field, token request) is
refused with a 4xx naming the field. PostgreSQL text cannot hold one, so without this the
request reached the database and failed there with a 500."""

from datetime import timedelta

from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import Order

ORDER = {
    "title": "Brackets",
    "due_date": (utcnow().date() + timedelta(days=30)).isoformat(),
    "delivery_country": "DE",
    "delivery_latitude": 48.78,
    "delivery_longitude": 9.18,
    "lines": [{"process_code": "milling", "material": "aluminium", "quantity": 1, "hours": 2}],
}


def test_api_names_the_json_field_query_parameter_and_nested_path(browser, make_member, db_session):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    for body, field in [
        ({**ORDER, "title": "Brack\x00ets"}, "title"),
        ({**ORDER, "lines": [{**ORDER["lines"][0], "material": "alu\x00"}]}, "lines[0].material"),
    ]:
        response = browser.api("POST", "/api/v1/orders", json=body)
        assert response.status_code == 422
        assert response.get_json()["fields"] == [
            {"field": field, "message": "must not contain NUL characters"}
        ]
    assert db_session.exec(select(Order)).all() == []
    response = browser.get("/api/v1/factories", query_string={"region": "Bav\x00aria"})
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "region"


def test_web_forms_and_pages_answer_400_naming_the_field(browser, make_member, db_session):
    browser.login(make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER))
    response = browser.form(
        "/supply/onboarding",
        {
            "name": "Mill\x00 One",
            "country": "DE",
            "region": "Bavaria",
            "latitude": "48",
            "longitude": "11",
        },
    )
    assert response.status_code == 400
    assert "name: must not contain NUL characters" in response.get_data(as_text=True)
    page = browser.get("/supply/search", query_string={"country": "\x00"})
    assert page.status_code == 400


def test_token_endpoint_answers_a_json_400(client):
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "fwc_\x00", "client_secret": "x"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_ordinary_text_passes(browser, make_member):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    response = browser.api("POST", "/api/v1/orders", json={**ORDER, "title": "Brackets ∅ 0x00"})
    assert response.status_code == 201
