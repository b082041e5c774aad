"""Who is calling is settled before anything else of an API request: a write with no
credentials at all answers 401 with the JSON error body (not a CSRF 400), whatever its
body; the CSRF check applies to calls that carry the session cookie; bearer-token calls
need no CSRF token. The OpenAPI document declares each of these answers."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from marketplace.accounts.models import OrganizationKind, Role

WRITES = ("post", "put", "patch", "delete")


def write_operations(client) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def]
    document = client.get("/api/openapi.json").get_json()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in WRITES
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


BODIES = {
    "nothing": {},
    "an empty JSON object": {"json": {}},
    "JSON that fits no schema": {"json": {"title": 7, "lines": "many"}},
    "a form": {"data": {"kind": "started"}},
    "bytes": {"data": b"<environment/>", "content_type": "application/xml"},
}


def test_every_write_without_credentials_answers_401_json(client):
    operations = write_operations(client)
    assert len(operations) >= 29
    wrong = []
    for method, path, _ in operations:
        for name, body in BODIES.items():
            response = client.open(concrete(path), method=method, **body)
            answer = response.get_json(silent=True) or {}
            if response.status_code != 401 or answer.get("error") != "unauthorized":
                wrong.append(f"{method} {path} with {name}: {response.status_code} {answer}")
            elif response.headers.get("WWW-Authenticate") != "Bearer":
                wrong.append(f"{method} {path}: no WWW-Authenticate: Bearer")
    assert wrong == []


def test_a_bad_bearer_token_is_401_before_the_body_is_validated(client):
    for token in ("fwt_unknown", "", "x" * 500):
        response = client.post(
            "/api/v1/orders",
            json={"title": 7},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, token
        assert response.get_json()["error"] == "unauthorized"


def test_the_wrong_role_is_403_before_the_body_is_validated(browser, make_member):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    response = browser.api("POST", "/api/v1/factories", json={"name": 7})
    assert response.status_code == 403


def test_the_session_cookie_needs_the_csrf_token(browser, make_member):
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    response = browser.client.post("/api/v1/notifications/read")
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["message"]
    assert browser.api("POST", "/api/v1/notifications/read").status_code == 200


def test_a_cookie_of_nobody_signed_in_is_401(browser, make_member):
    """A browser that has the cookie but no live session (any page sets the cookie; a
    sign-out ends the session) acts for nobody: 401 first, token or not."""
    browser.get("/")
    assert browser.client.get_cookie("session") is not None
    assert browser.client.post("/api/v1/notifications/read").status_code == 401
    assert browser.api("POST", "/api/v1/notifications/read").status_code == 401
    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    browser.logout()
    assert browser.client.post("/api/v1/notifications/read").status_code == 401


def test_web_forms_keep_their_csrf_check(client):
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400


def test_the_document_declares_400_401_and_413_on_every_write(client):
    document = client.get("/api/openapi.json").get_json()
    validate(document)
    missing = [
        f"{method} {path}: {status}"
        for method, path, operation in write_operations(client)
        for status in ("400", "401", "413")
        if status not in operation["responses"]
    ]
    assert missing == []
    csrf = document["paths"]["/api/v1/orders"]["post"]["responses"]["400"]
    assert "X-CSRFToken" in csrf["description"]
    schema = csrf["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    # Reads say 401 where they need someone signed in, and nothing of CSRF.
    orders = document["paths"]["/api/v1/orders"]["get"]["responses"]
    assert "401" in orders and "400" not in orders
    assert "401" not in document["paths"]["/api/v1/taxonomy"]["get"]["responses"]


@pytest.mark.parametrize("method", ["OPTIONS"])
def test_automatic_options_answers_without_credentials(client, method):
    response = client.open("/api/v1/orders", method=method)
    assert response.status_code == 200
    assert "POST" in response.headers["Allow"]
