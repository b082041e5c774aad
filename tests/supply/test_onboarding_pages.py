"""Onboarding on the web: register pending, field messages, operator decision, flags."""

from datetime import timedelta

from sqlmodel import select

from factories.models import Factory, utcnow
from marketplace.accounts.models import OrganizationKind, Role
from tests.factories.conftest import certification_details

REGISTRATION = {
    "name": "Keller Präzision",
    "country": "DE",
    "region": "Baden-Württemberg",
    "city": "Stuttgart",
    "latitude": "48.78",
    "longitude": "9.18",
    "certificate_type": "ISO9001",
    "certificate_version": "2015",
    "registration_number": "Q-4711",
    "issuer": "TÜV SÜD",
    "valid_from": "2025-01-01",
    "valid_until": "2028-01-01",
}


def test_owner_registers_the_factory_and_it_is_pending(browser, owner, db_session):
    browser.login(owner)
    page = browser.get("/supply/onboarding").get_data(as_text=True)
    assert 'id="register-factory"' in page
    response = browser.form("/supply/onboarding", REGISTRATION)
    assert response.status_code == 302, response.get_data(as_text=True)
    factory = db_session.exec(
        select(Factory).where(Factory.organization_id == owner.organization.id)
    ).one()
    assert factory.status == "pending" and factory.country == "DE"
    assert response.headers["Location"] == f"/supply/factories/{factory.id}"
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Pending verification" in page and "Q-4711" in page
    # Back on the landing page, the factory is listed instead of the form.
    page = browser.get("/supply/onboarding").get_data(as_text=True)
    assert "Keller Präzision" in page and 'id="register-factory"' not in page


def test_field_messages_and_nothing_saved(browser, owner, db_session):
    browser.login(owner)
    response = browser.form(
        "/supply/onboarding",
        {**REGISTRATION, "country": "XX", "region": "", "valid_until": "2024-01-01"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    # Every problem at once, each under its field.
    assert "Choose a country from the list." in page.split('id="country-errors"')[1]
    assert "is required" in page.split('id="region-errors"')[1]
    assert "must not be before the start of validity" in page.split('id="valid_until-errors"')[1]
    assert (
        db_session.exec(
            select(Factory).where(Factory.organization_id == owner.organization.id)
        ).all()
        == []
    )


def test_only_owners_of_factory_organizations_register(browser, make_member, buyer):
    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER)
    browser.login(member)
    assert browser.form("/supply/onboarding", REGISTRATION).status_code == 403
    assert "ask an owner" in browser.get("/supply/onboarding").get_data(as_text=True).lower()
    browser.logout()
    browser.login(buyer)
    assert browser.get("/supply/onboarding").status_code == 403


def test_operator_verifies_and_suspends(
    browser, new_browser, owner, operator, live_factory, db_session
):
    factory = live_factory(organization_id=owner.organization.id, status="pending")
    db_session.commit()
    browser.login(operator)
    listing = browser.get("/supply/operator/factories").get_data(as_text=True)
    assert factory.name in listing
    # Verified from the pending list, the operator is back on the pending list.
    response = browser.form(
        f"/supply/operator/factories/{factory.id}/verify",
        {"back": "/supply/operator/factories?status=pending&page=2"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/supply/operator/factories?status=pending&page=2"
    db_session.refresh(factory)
    assert factory.status == "verified" and factory.verified_at is not None
    assert 'name="back" value="/supply/operator/factories?' in listing
    response = browser.form(
        f"/supply/operator/factories/{factory.id}/suspend", {"reason": "Insurance lapsed"}
    )
    assert response.status_code == 302
    db_session.refresh(factory)
    assert factory.status == "suspended"
    owner_browser = new_browser()
    owner_browser.login(owner)
    page = owner_browser.get(f"/supply/factories/{factory.id}").get_data(as_text=True)
    assert "Suspended" in page and "Insurance lapsed" in page
    # Owners cannot verify themselves.
    assert (
        owner_browser.form(f"/supply/operator/factories/{factory.id}/verify", {}).status_code == 403
    )


def test_operator_list_shows_what_to_check_finds_and_pages(
    browser, owner, operator, live_factory, db_session
):
    today = utcnow().date()
    live_factory(
        "Lapsed Präzision",
        organization_id=owner.organization.id,
        status="pending",
        certifications=[certification_details("IATF16949", valid_until=today - timedelta(days=3))],
    )
    for k in range(55):
        live_factory(f"Batch shop {k:02d}", organization_id=owner.organization.id, status="pending")
    db_session.commit()
    browser.login(operator)

    found = browser.get("/supply/operator/factories?q=lapsed").get_data(as_text=True)
    assert "Lapsed Präzision" in found and "Batch shop" not in found
    assert "IATF16949-4711" in found and "TÜV SÜD" in found
    assert f"to {(today - timedelta(days=3)).isoformat()}" in found
    assert "not valid today" in found and "CNC milling, 5-axis" in found

    first = browser.get("/supply/operator/factories?q=batch shop").get_data(as_text=True)
    assert "55 factories" in first and first.count("Batch shop") == 50
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = browser.get("/supply/operator/factories?q=batch+shop&page=2").get_data(as_text=True)
    assert second.count("Batch shop") == 5 and 'rel="prev"' in second
    # Nonsense paging and wildcards are taken literally, never a 500.
    assert browser.get("/supply/operator/factories?page=-3").status_code == 400
    assert browser.get("/supply/operator/factories?page=99999999999").status_code == 400
    assert browser.get("/supply/operator/factories?page=999999999").status_code == 200
    assert "No factories" in browser.get("/supply/operator/factories?q=%25_").get_data(as_text=True)


def test_expired_certifications_are_flagged(browser, owner, live_factory, db_session):
    today = utcnow().date()
    factory = live_factory(
        organization_id=owner.organization.id,
        certifications=[
            certification_details("ISO9001"),
            certification_details("AS9100", valid_until=today - timedelta(days=2)),
        ],
    )
    db_session.commit()
    browser.login(owner)
    page = browser.get(f"/supply/factories/{factory.id}").get_data(as_text=True)
    rows = page.split('id="certifications"')[1].split("</table>")[0].split("<tr")
    as9100 = next(r for r in rows if "AS9100" in r)
    iso9001 = next(r for r in rows if "ISO9001" in r)
    assert "expired: no longer counts" in as9100 and 'class="expired"' in as9100
    assert "expired" not in iso9001


def test_certifications_added_and_removed_on_the_page(browser, owner, owned_factory, db_session):
    browser.login(owner)
    url = f"/supply/factories/{owned_factory.id}/certifications"
    bad = browser.form(
        url,
        {
            "certificate_type": "IATF16949",
            "registration_number": "",
            "issuer": "DEKRA",
            "valid_from": "2025-01-01",
            "valid_until": "2027-01-01",
        },
    )
    assert bad.status_code == 400 and 'id="registration_number-errors"' in bad.get_data(
        as_text=True
    )
    good = browser.form(
        url,
        {
            "certificate_type": "IATF16949",
            "registration_number": "IATF-1",
            "issuer": "DEKRA",
            "valid_from": "2025-01-01",
            "valid_until": "2027-01-01",
        },
    )
    assert good.status_code == 302
    page = browser.get(f"/supply/factories/{owned_factory.id}").get_data(as_text=True)
    assert "IATF-1" in page


def test_factory_details_are_edited_with_field_messages(browser, owner, owned_factory, db_session):
    browser.login(owner)
    url = f"/supply/factories/{owned_factory.id}/edit"
    assert 'value="Keller Präzision"' in browser.get(url).get_data(as_text=True)
    bad = browser.form(
        url,
        {"name": "Keller", "country": "DE", "region": "BW", "latitude": "95", "longitude": "9"},
    )
    assert bad.status_code == 400 and "must be between -90 and 90" in bad.get_data(as_text=True)
    ok = browser.form(
        url,
        {"name": "Keller 2", "country": "DE", "region": "BW", "latitude": "48", "longitude": "9"},
    )
    assert ok.status_code == 302
    db_session.refresh(owned_factory)
    assert owned_factory.name == "Keller 2"


def test_factory_pages_speak_simplified_chinese(browser, owner):
    browser.login(owner)
    page = browser.get("/supply/onboarding", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "登记您的工厂" in page and "工厂名称" in page


def test_a_factory_is_placed_by_its_city_and_every_problem_shows_at_once(
    browser, owner, db_session
):
    browser.login(owner)
    response = browser.form(
        "/supply/onboarding",
        {**REGISTRATION, "name": "", "city": "Nowhereville", "issuer": ""},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "is required" in page.split('id="name-errors"')[1].split("</ul>")[0]
    assert "No city of this name in Germany" in page.split('id="city-errors"')[1].split("</ul>")[0]
    assert "is required" in page.split('id="issuer-errors"')[1].split("</ul>")[0]
    assert 'value="Nowhereville"' in page
    assert "data-place-picker" in page and 'maxlength="200"' in page

    # The city alone places the factory: its country and coordinates come from it.
    response = browser.form(
        "/supply/onboarding",
        {**REGISTRATION, "country": "", "city": "Shenzhen", "latitude": "", "longitude": ""},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    factory = db_session.exec(
        select(Factory).where(Factory.organization_id == owner.organization.id)
    ).one()
    assert (factory.country, factory.city) == ("CN", "Shenzhen")
    assert round(factory.latitude) == 23 and round(factory.longitude) == 114
