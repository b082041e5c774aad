"""A NUL character or a lone surrogate anywhere in the input (JSON body, query, form field,
header, token request) is refused with a 4xx naming the field. PostgreSQL text cannot hold
either, so without this the request reached the database (or psycopg's encoder) and failed
there with a 500. Client credentials that cannot be read are an invalid client (401)."""

import base64
import json
from datetime import timedelta

import pytest
from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role, UserSession
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


# Lone surrogates: JSON's "\ud800" escape (or its raw UTF-8-style bytes) decodes to a
# string that has no UTF-8 form, so psycopg cannot send it to the database.


def test_api_refuses_lone_surrogates_naming_the_field(browser, make_member, db_session):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    message = "must not contain lone surrogates"
    for body, field in [
        ({**ORDER, "title": "\ud800"}, "title"),
        ({**ORDER, "lines": [{**ORDER["lines"][0], "material": "alu\udfff"}]}, "lines[0].material"),
        ({**ORDER, "\udc00title": "x"}, "title"),
    ]:
        response = browser.api("POST", "/api/v1/orders", json=body)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.get_json()["fields"] == [{"field": field, "message": message}]
    # The raw bytes of a surrogate, which Python's JSON decoder also lets through.
    raw = json.dumps({**ORDER, "title": "@"}).encode().replace(b"@", b"\xed\xa0\x80")
    response = browser.api("POST", "/api/v1/orders", data=raw, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["fields"] == [{"field": "title", "message": message}]
    assert db_session.exec(select(Order)).all() == []


def test_api_form_fields_are_checked_as_the_api_reads_them(browser, make_member):
    r"""The API's multipart forms read each field as JSON when it parses: `"\u0000"` would
    reach the view as a NUL, `"\ud800"` as a lone surrogate."""
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    order = browser.api("POST", "/api/v1/orders", json=ORDER).get_json()
    for text, message in [
        ('"\\u0000"', "must not contain NUL characters"),
        ('"\\ud800"', "must not contain lone surrogates"),
    ]:
        response = browser.api(
            "POST", f"/api/v1/orders/{order['id']}/dispute", data={"reason": text}
        )
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.get_json()["fields"] == [{"field": "reason", "message": message}]


def test_a_paired_surrogate_escape_is_ordinary_text(browser, make_member, db_session):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    response = browser.api("POST", "/api/v1/orders", json={**ORDER, "title": "Brackets 🔩"})
    assert response.status_code == 201
    assert db_session.exec(select(Order)).one().title == "Brackets 🔩"


def test_a_nul_in_a_header_is_refused_before_it_is_stored(browser, make_member, db_session):
    """The User-Agent is kept with the session; a NUL there would fail the sign-in."""
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    response = browser.client.post(
        "/login",
        data={"email": buyer.email, "password": buyer.password, "csrf_token": browser.csrf_token()},
        headers={"User-Agent": "Mozilla\x00"},
    )
    assert response.status_code == 400
    assert "User-Agent: must not contain NUL characters" in response.get_data(as_text=True)
    assert db_session.exec(select(UserSession)).all() == []
    # The API says who may call first: nobody signed in is 401, whatever the headers.
    response = browser.client.get("/api/v1/me", headers={"User-Agent": "curl\x00"})
    assert response.status_code == 401
    browser.login(buyer)
    response = browser.client.get("/api/v1/me", headers={"User-Agent": "curl\x00"})
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "User-Agent"


def basic(credentials: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke"])
@pytest.mark.parametrize(
    "header",
    [
        basic(b"fwc_\xff\xfe:secret"),
        basic(b"fwc_x:\xed\xa0\x80"),
        basic(b"fwc_x%00:secret"),
        {"Authorization": "Basic \xe9t\xe9"},
        {"Authorization": "Basic "},
    ],
    ids=["latin-1 client id", "surrogate bytes in the secret", "quoted NUL", "not base64", "empty"],
)
def test_unusable_basic_credentials_are_an_invalid_client(client, endpoint, header):
    """RFC 6749 section 5.2: credentials that name no client fail client authentication."""
    data = {"grant_type": "client_credentials", "token": "fwt_x"}
    response = client.post(endpoint, data=data, headers=header)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    # The same answer as for a client that does not exist.
    unknown = client.post(endpoint, data=data, headers=basic(b"fwc_unknown:secret"))
    assert (unknown.status_code, unknown.get_json()["error"]) == (401, "invalid_client")


def _multipart(*parts: tuple[str, str]) -> tuple[bytes, str]:
    boundary = "factoryweb-boundary"
    body = "".join(
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n"
        for disposition, value in parts
    )
    return f"{body}--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_multipart_part_without_a_name_is_refused(browser, make_member, db_session):
    """werkzeug files a part without a name under None, which the CSRF check (looking
    through field names for the token) could not handle: a 500 before this guard."""
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    token = browser.csrf_token()
    for disposition in ("form-data", 'form-data; filename="evidence.txt"'):
        body, content_type = _multipart(('form-data; name="reason"', "late"), (disposition, "x"))
        response = browser.client.post(
            "/api/v1/orders/1/dispute",
            data=body,
            content_type=content_type,
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 422, disposition
        assert response.get_json()["fields"] == [
            {"field": "body", "message": "every part of a multipart body needs a name"}
        ]
        body, content_type = _multipart(('form-data; name="csrf_token"', token), (disposition, "x"))
        response = browser.client.post("/orders/new", data=body, content_type=content_type)
        assert response.status_code == 400, disposition
        assert "The form sent a part without a name." in response.get_data(as_text=True)
    assert db_session.exec(select(Order)).all() == []
