"""The capability editor on the web and in the API: field messages, nothing half-saved."""

from sqlmodel import select

from factories.models import Capability, CapabilityMaterial

GOOD = {
    "process_code": "milling_5axis",
    "materials": ["aluminium", "titanium"],
    "tolerance_class": "ISO 2768-f",
    "max_length_mm": 800,
    "max_width_mm": 600,
    "max_height_mm": 400,
    "batch_min": 1,
    "batch_max": 500,
    "hourly_rate": "95.50",
    "currency": "EUR",
}


def capabilities(db_session, factory):
    return db_session.exec(select(Capability).where(Capability.factory_id == factory.id)).all()


def test_api_creates_a_capability(browser, owner, owned_factory, db_session):
    browser.login(owner)
    response = browser.api(
        "POST",
        f"/api/v1/factories/{owned_factory.id}/capabilities",
        json={**GOOD, "process_code": "turning", "materials": ["steel"]},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["process_code"] == "turning" and body["materials"] == ["steel"]
    assert body["hourly_rate_minor"] == 9550 and body["labels"]["zh"] == "数控车削"
    listed = browser.get(f"/api/v1/factories/{owned_factory.id}/capabilities").get_json()
    assert {c["process_code"] for c in listed["capabilities"]} == {"milling_5axis", "turning"}


def test_api_names_every_faulty_field_and_saves_nothing(browser, owner, owned_factory, db_session):
    browser.login(owner)
    before = len(capabilities(db_session, owned_factory))
    response = browser.api(
        "POST",
        f"/api/v1/factories/{owned_factory.id}/capabilities",
        json={
            **GOOD,
            "process_code": "injection_molding",
            "materials": ["aluminium"],
            "max_width_mm": 0,
            "batch_min": 50,
            "batch_max": 10,
            "hourly_rate": "12.345",
        },
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "validation_failed"
    fields = {p["field"] for p in body["fields"]}
    assert fields == {"materials", "max_width_mm", "batch_max", "hourly_rate"}
    assert len(capabilities(db_session, owned_factory)) == before
    # A type error is named by the request validation, too.
    response = browser.api(
        "POST",
        f"/api/v1/factories/{owned_factory.id}/capabilities",
        json={**GOOD, "max_length_mm": "long"},
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "max_length_mm"


def test_api_update_and_delete(browser, owner, owned_factory, db_session):
    browser.login(owner)
    [capability] = capabilities(db_session, owned_factory)
    url = f"/api/v1/factories/{owned_factory.id}/capabilities/{capability.id}"
    response = browser.api("PUT", url, json={**GOOD, "materials": ["aluminium"], "batch_max": 900})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["batch_max"] == 900
    response = browser.api("PUT", url, json={**GOOD, "process_code": "turning"})
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "process_code"
    assert browser.api("DELETE", url).status_code == 204
    assert capabilities(db_session, owned_factory) == []


def test_web_editor_shows_messages_under_fields(browser, owner, owned_factory, db_session):
    browser.login(owner)
    url = f"/supply/factories/{owned_factory.id}/capabilities/new"
    page = browser.get(url).get_data(as_text=True)
    assert 'name="process_code"' in page and 'value="titanium"' in page
    form = {
        **GOOD,
        "process_code": "sls",
        "materials": ["steel"],
        "max_height_mm": "x",
        "batch_max": "0",
    }
    response = browser.form(url, form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (
        "Carbon steel cannot be processed by 3D printing, SLS"
        in page.split('id="materials-errors"')[1]
    )
    assert 'id="max_height_mm-errors"' in page
    assert "must be a whole number" in page.split('id="batch_max-errors"')[1]
    assert len(capabilities(db_session, owned_factory)) == 1
    response = browser.form(url, {**GOOD, "process_code": "sls", "materials": ["pa12"]})
    assert response.status_code == 302
    sls = db_session.exec(
        select(Capability).where(
            Capability.factory_id == owned_factory.id, Capability.process_code == "sls"
        )
    ).one()
    assert db_session.exec(
        select(CapabilityMaterial.material).where(CapabilityMaterial.capability_id == sls.id)
    ).all() == ["pa12"]


def test_web_edit_keeps_the_process(browser, owner, owned_factory, db_session):
    browser.login(owner)
    [capability] = capabilities(db_session, owned_factory)
    url = f"/supply/factories/{owned_factory.id}/capabilities/{capability.id}"
    assert 'value="95.50"' in browser.get(url).get_data(as_text=True)
    response = browser.form(url, {**GOOD, "hourly_rate": "110", "process_code": "turning"})
    assert response.status_code == 302
    db_session.refresh(capability)
    assert capability.hourly_rate_minor == 11000 and capability.process_code == "milling_5axis"


def test_members_and_machines_do_not_edit_capabilities(browser, make_member, owner, owned_factory):
    from marketplace.accounts.models import OrganizationKind, Role

    member = make_member(
        OrganizationKind.FACTORY, Role.FACTORY_MEMBER, organization=owner.organization
    )
    browser.login(member)
    response = browser.api("POST", f"/api/v1/factories/{owned_factory.id}/capabilities", json=GOOD)
    assert response.status_code == 403
    assert browser.get(f"/supply/factories/{owned_factory.id}/capabilities/new").status_code == 403
    # Members still read their factory.
    assert browser.get(f"/api/v1/factories/{owned_factory.id}").status_code == 200


def test_rates_show_in_the_currencys_own_decimals(browser, owner, owned_factory):
    browser.login(owner)
    response = browser.api(
        "POST",
        f"/api/v1/factories/{owned_factory.id}/capabilities",
        json={**GOOD, "process_code": "turning", "hourly_rate": "9800", "currency": "JPY"},
    )
    assert response.status_code == 201, response.get_json()
    page = browser.get(f"/supply/factories/{owned_factory.id}").get_data(as_text=True)
    assert "¥9,800" in page and "¥9,800.00" not in page
    assert "€95.50" in page
