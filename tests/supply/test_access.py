"""A factory's pages and API belong to its organization: others get 404, never its data.
Operators read every factory but change only its status."""

import pytest

from factories.models import Capability, Certification
from marketplace.accounts.models import OrganizationKind, Role

READS = [
    "/supply/factories/{f}",
    "/supply/factories/{f}/capacity",
    "/supply/factories/{f}/export/aas-json",
    "/api/v1/factories/{f}",
    "/api/v1/factories/{f}/capabilities",
    "/api/v1/factories/{f}/capabilities/{c}",
    "/api/v1/factories/{f}/capacity",
    "/api/v1/factories/{f}/profile",
    "/api/v1/factories/{f}/aas",
]
WRITES = [
    ("POST", "/supply/factories/{f}/edit", {"name": "x"}),
    ("POST", "/supply/factories/{f}/certifications", {"certificate_type": "ISO9001"}),
    ("POST", "/supply/factories/{f}/certifications/{cert}/delete", {}),
    ("POST", "/supply/factories/{f}/capabilities/new", {"process_code": "turning"}),
    ("POST", "/supply/factories/{f}/capabilities/{c}", {"hourly_rate": "1"}),
    ("POST", "/supply/factories/{f}/capabilities/{c}/delete", {}),
    ("POST", "/supply/factories/{f}/capacity", {"max:milling_5axis:2030-01-07": "1"}),
    ("POST", "/supply/factories/{f}/capacity/fill", {"hours": "1", "weeks": "1"}),
    ("POST", "/supply/factories/{f}/capacity/copy", {}),
    ("POST", "/supply/factories/{f}/capacity/close", {}),
]
API_WRITES = [
    (
        "PUT",
        "/api/v1/factories/{f}",
        {"name": "x", "country": "DE", "region": "x", "latitude": 1, "longitude": 1},
    ),
    (
        "POST",
        "/api/v1/factories/{f}/certifications",
        {
            "certificate_type": "ISO9001",
            "registration_number": "1",
            "issuer": "x",
            "valid_from": "2025-01-01",
            "valid_until": "2026-01-01",
        },
    ),
    ("DELETE", "/api/v1/factories/{f}/certifications/{cert}", None),
    ("DELETE", "/api/v1/factories/{f}/capabilities/{c}", None),
    (
        "PUT",
        "/api/v1/factories/{f}/capacity",
        {
            "capacities": [
                {"capabilityId": "milling_5axis", "pointInTime": "2030-01-07", "maximumCapacity": 1}
            ]
        },
    ),
    ("POST", "/api/v1/factories/{f}/capacity/close", {"week": "2030-W02"}),
]


@pytest.fixture
def target(owned_factory, db_session):
    capability = db_session.exec(
        Capability.__table__.select().where(Capability.factory_id == owned_factory.id)
    ).first()
    certification = db_session.exec(
        Certification.__table__.select().where(Certification.factory_id == owned_factory.id)
    ).first()
    return {"f": owned_factory.id, "c": capability.id, "cert": certification.id}


def urls(target, template):
    return template.format(**target)


@pytest.mark.parametrize(
    "kind,role",
    [
        (OrganizationKind.FACTORY, Role.FACTORY_OWNER),
        (OrganizationKind.BUYER, Role.BUYER_MEMBER),
    ],
)
def test_other_organizations_get_404_or_403_and_no_data(
    browser, make_member, owned_factory, target, kind, role
):
    stranger = make_member(kind, role)
    browser.login(stranger)
    for template in READS:
        response = browser.get(urls(target, template))
        assert response.status_code == 404, template
        assert owned_factory.name not in response.get_data(as_text=True)
    for _method, template, data in WRITES:
        response = browser.form(urls(target, template), data)
        assert response.status_code in (403, 404), template
    for method, template, body in API_WRITES:
        response = browser.api(method, urls(target, template), json=body)
        assert response.status_code in (403, 404), (template, response.get_json())
    search = browser.get("/api/v1/factories/mine").get_json()
    assert owned_factory.id not in [f["id"] for f in search["factories"]]


def test_operators_read_every_factory_but_only_verify_or_suspend(
    browser, operator, owned_factory, target
):
    browser.login(operator)
    for template in READS:
        assert browser.get(urls(target, template)).status_code == 200, template
    for method, template, body in API_WRITES:
        response = browser.api(method, urls(target, template), json=body)
        assert response.status_code == 403, template
    response = browser.api(
        "POST", f"/api/v1/factories/{owned_factory.id}/suspend", json={"reason": "Audit"}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "suspended"
    response = browser.api("POST", f"/api/v1/factories/{owned_factory.id}/verify")
    assert response.status_code == 200 and response.get_json()["status"] == "verified"


def test_verification_is_for_operators_only(browser, owner, owned_factory):
    browser.login(owner)
    assert browser.api("POST", f"/api/v1/factories/{owned_factory.id}/verify").status_code == 403
    assert browser.get("/supply/operator/factories").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, target):
    assert client.get(urls(target, "/api/v1/factories/{f}")).status_code == 401
    response = client.get(urls(target, "/supply/factories/{f}"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/api/v1/schemas/factory-profile.json").status_code == 200


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_ids_beyond_the_database_integers_are_404_not_500(
    browser, owner, operator, owned_factory, target, huge
):
    """Flask's int converter passes numbers of any size; PostgreSQL cannot compare them
    with its integer ids ("integer out of range")."""
    browser.login(owner)
    for key in ("f", "c", "cert"):
        beyond = {**target, key: huge}
        for template in READS:
            if "{" + key + "}" in template:
                assert browser.get(template.format(**beyond)).status_code == 404, template
        for _method, template, data in WRITES:
            if "{" + key + "}" in template:
                response = browser.form(template.format(**beyond), data)
                assert response.status_code == 404, template
        for method, template, body in API_WRITES:
            if "{" + key + "}" in template:
                response = browser.api(method, template.format(**beyond), json=body)
                assert response.status_code == 404, template
    browser.login(operator)
    for action in ("verify", "suspend"):
        url = f"/supply/operator/factories/{huge}/{action}"
        assert browser.form(url, {"reason": "Audit"}).status_code == 404, url
        url = f"/api/v1/factories/{huge}/{action}"
        assert browser.api("POST", url, json={"reason": "Audit"}).status_code == 404, url
