"""The capacity calendar on the web (with htmx cell edits) and in the API (machine
clients with the capacity:write scope)."""

from datetime import timedelta
from decimal import Decimal

from factories.capacity.calendar import capacity_grid
from factories.capacity.weeks import week_label
from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from tests.supply.conftest import week


def grid(db_session, factory):
    now = utcnow()
    db_session.expire_all()
    return capacity_grid(db_session, factory, now.date(), now)


def test_grid_shows_twelve_weeks_with_maximum_booked_and_free(
    browser, owner, live_factory, db_session
):
    factory = live_factory(
        organization_id=owner.organization.id, hours={"milling_5axis": [(1, "40", "12.5")]}
    )
    db_session.commit()
    browser.login(owner)
    page = browser.get(f"/supply/factories/{factory.id}/capacity").get_data(as_text=True)
    for n in range(12):
        assert week_label(week(n)) in page
    assert week_label(week(12)) not in page
    cell = page.split(f'id="cell-milling_5axis-{week(1).isoformat()}"')[1].split("</td>")[0]
    assert 'value="40"' in cell and "booked 12.5" in cell and "free 27.5" in cell
    assert 'hx-post="' in cell and 'hx-trigger="change"' in cell
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


def test_htmx_cell_edit_saves_in_place_and_refuses_cuts_below_booked(
    browser, owner, live_factory, db_session
):
    factory = live_factory(
        organization_id=owner.organization.id, hours={"milling_5axis": [(1, "40", "12.5")]}
    )
    db_session.commit()
    browser.login(owner)
    url = f"/supply/factories/{factory.id}/capacity"
    name = f"max:milling_5axis:{week(2).isoformat()}"
    response = browser.client.post(
        url, data={name: "56"}, headers={"HX-Request": "true", "X-CSRFToken": browser.csrf_token()}
    )
    assert response.status_code == 200
    cell = response.get_data(as_text=True)
    assert cell.strip().startswith("<td") and "saved" in cell and 'value="56"' in cell
    assert grid(db_session, factory).cell("milling_5axis", week(2)).maximum_hours == Decimal(56)

    below = f"max:milling_5axis:{week(1).isoformat()}"
    response = browser.client.post(
        url, data={below: "10"}, headers={"HX-Request": "true", "X-CSRFToken": browser.csrf_token()}
    )
    cell = response.get_data(as_text=True)
    assert "12.5 h are already booked" in cell and "2.5 h too little" in cell
    assert 'aria-invalid="true"' in cell and 'value="10"' in cell
    assert grid(db_session, factory).cell("milling_5axis", week(1)).maximum_hours == Decimal(40)
    # A cell name without its week, or hours beyond any week, are 4xx or a message, never 500.
    headers = {"HX-Request": "true", "X-CSRFToken": browser.csrf_token()}
    assert browser.client.post(
        url, data={"max:milling_5axis": "5"}, headers=headers
    ).status_code == (400)
    cell = browser.client.post(url, data={name: "1e999"}, headers=headers).get_data(as_text=True)
    assert "must be between 0 and 10000 hours" in cell
    # Without the CSRF header the edit is refused.
    assert (
        browser.client.post(url, data={name: "1"}, headers={"HX-Request": "true"}).status_code
        == 400
    )


def test_whole_grid_save_is_all_or_nothing(browser, owner, live_factory, db_session):
    factory = live_factory(
        organization_id=owner.organization.id, hours={"milling_5axis": [(1, "40", "30")]}
    )
    db_session.commit()
    browser.login(owner)
    url = f"/supply/factories/{factory.id}/capacity"
    response = browser.form(
        url,
        {
            f"max:milling_5axis:{week(0).isoformat()}": "20",
            f"max:milling_5axis:{week(1).isoformat()}": "25",
        },
    )
    assert response.status_code == 400
    assert "5 h too little" in response.get_data(as_text=True)
    g = grid(db_session, factory)
    assert g.cell("milling_5axis", week(0)).maximum_hours == Decimal(40)
    response = browser.form(url, {f"max:milling_5axis:{week(0).isoformat()}": "20"})
    assert response.status_code == 302
    assert grid(db_session, factory).cell("milling_5axis", week(0)).maximum_hours == Decimal(20)


def test_fill_copy_and_close_on_the_page(browser, owner, live_factory, db_session):
    factory = live_factory(
        organization_id=owner.organization.id,
        hours={"milling_5axis": [(4, "40", "8")]},
        weekly=None,
    )
    db_session.commit()
    browser.login(owner)
    base = f"/supply/factories/{factory.id}/capacity"
    response = browser.form(
        f"{base}/fill", {"hours": "40", "first_week": week(1).isoformat(), "weeks": "8"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "40 h per week for 8 weeks" in browser.get(base).get_data(as_text=True)
    g = grid(db_session, factory)
    assert [g.cell("milling_5axis", week(n)).maximum_hours for n in (0, 1, 8, 9)] == [0, 40, 40, 0]

    response = browser.form(
        f"{base}/copy",
        {
            "source_week": week(1).isoformat(),
            "target_weeks": [week(0).isoformat(), week(9).isoformat()],
        },
    )
    assert response.status_code == 302
    g = grid(db_session, factory)
    assert g.cell("milling_5axis", week(0)).maximum_hours == 40
    assert g.cell("milling_5axis", week(9)).maximum_hours == 40

    response = browser.form(f"{base}/close", {"week": week(4).isoformat()})
    assert response.status_code == 302
    message = browser.get(base).get_data(as_text=True)
    assert "8 h already booked stay booked" in message and "cannot go below" in message
    assert grid(db_session, factory).cell("milling_5axis", week(4)).maximum_hours == 8

    response = browser.form(
        f"{base}/fill", {"hours": "5", "first_week": week(1).isoformat(), "weeks": "8"}
    )
    assert response.status_code == 400
    assert "3 h too little" in response.get_data(as_text=True)

    # Impossible hours are said once, at the hours field, not once per week and process.
    response = browser.form(
        f"{base}/fill", {"hours": "-3", "first_week": week(1).isoformat(), "weeks": "8"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count("must be between 0 and 10000 hours") == 1
    assert 'id="hours-errors"' in page


def test_stale_warning_after_fourteen_days(browser, owner, owned_factory, db_session):
    browser.login(owner)
    page = browser.get(f"/supply/factories/{owned_factory.id}").get_data(as_text=True)
    assert 'id="stale-warning"' not in page
    owned_factory.capacity_updated_at = utcnow() - timedelta(days=15)
    db_session.commit()
    page = browser.get(f"/supply/factories/{owned_factory.id}").get_data(as_text=True)
    assert 'id="stale-warning"' in page and "15 days ago" in page
    assert 'id="stale-warning"' in browser.get(
        f"/supply/factories/{owned_factory.id}/capacity"
    ).get_data(as_text=True)
    # Saving the calendar unchanged confirms it.
    assert browser.form(f"/supply/factories/{owned_factory.id}/capacity", {}).status_code == 302
    page = browser.get(f"/supply/factories/{owned_factory.id}").get_data(as_text=True)
    assert 'id="stale-warning"' not in page
    body = browser.get(f"/api/v1/factories/{owned_factory.id}").get_json()
    assert body["capacity_stale"] is False


def test_capacity_api_for_people_and_machine_clients(
    browser, client, owner, owned_factory, db_session
):
    browser.login(owner)
    url = f"/api/v1/factories/{owned_factory.id}/capacity"
    body = browser.get(url).get_json()
    assert body["unitOfMeasure"] == "unit:hourUnitOfTime" and len(body["weeks"]) == 12
    first = body["capacities"][0]
    assert set(first) >= {
        "capabilityId",
        "pointInTime",
        "maximumCapacity",
        "bookedCapacity",
        "freeCapacity",
    }

    # A machine client of the factory with capacity:write pushes capacity.
    response = browser.form("/account/clients", {"name": "MES", "scopes": ["capacity:write"]})
    page = response.get_data(as_text=True)
    client_id = page.split('id="new-client-id">')[1].split("<")[0]
    secret = page.split('id="new-client-secret">')[1].split("<")[0]
    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).get_json()["access_token"]
    machine = {"Authorization": f"Bearer {token}"}
    response = client.put(
        url,
        json={
            "capacities": [
                {
                    "capabilityId": "milling_5axis",
                    "pointInTime": week(3).isoformat(),
                    "maximumCapacity": 61.5,
                }
            ]
        },
        headers=machine,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["capacities"][0]["maximumCapacity"] == 61.5
    assert grid(db_session, owned_factory).cell("milling_5axis", week(3)).maximum_hours == Decimal(
        "61.5"
    )

    bad = client.put(
        url,
        json={
            "capacities": [
                {
                    "capabilityId": "milling_5axis",
                    "pointInTime": week(3).isoformat(),
                    "maximumCapacity": 10,
                },
                {
                    "capabilityId": "turning",
                    "pointInTime": week(3).isoformat(),
                    "maximumCapacity": 10,
                },
                {
                    "capabilityId": "milling_5axis",
                    "pointInTime": (week(4) + timedelta(days=2)).isoformat(),
                    "maximumCapacity": 10,
                },
            ]
        },
        headers=machine,
    )
    assert bad.status_code == 422
    assert [p["field"] for p in bad.get_json()["fields"]] == [
        "capacities[1].capabilityId",  # the process this factory lacks, not its hours
        "capacities[2].pointInTime",
    ]
    assert grid(db_session, owned_factory).cell("milling_5axis", week(3)).maximum_hours == Decimal(
        "61.5"
    )

    response = client.post(
        f"{url}/fill",
        json={"hours": 30, "firstWeek": week_label(week(5)), "weeks": 2},
        headers=machine,
    )
    assert response.status_code == 200
    response = client.post(f"{url}/close", json={"week": week_label(week(5))}, headers=machine)
    assert response.status_code == 200 and response.get_json()["keptBookedHours"] == 0
    response = client.post(
        f"{url}/copy",
        json={"sourceWeek": week_label(week(6)), "targetWeeks": ["2026-W99"]},
        headers=machine,
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "targetWeeks[0]"

    # The machine client cannot change the profile, nor reach capacity elsewhere.
    assert client.post(
        f"/api/v1/factories/{owned_factory.id}/capabilities", json={}, headers=machine
    ).status_code in (403, 422)


def test_capacity_write_needs_the_scope(browser, client, owner, owned_factory):
    browser.login(owner)
    page = browser.form("/account/clients", {"name": "Reader", "scopes": ["orders:read"]}).get_data(
        as_text=True
    )
    client_id = page.split('id="new-client-id">')[1].split("<")[0]
    secret = page.split('id="new-client-secret">')[1].split("<")[0]
    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).get_json()["access_token"]
    response = client.put(
        f"/api/v1/factories/{owned_factory.id}/capacity",
        json={
            "capacities": [
                {
                    "capabilityId": "milling_5axis",
                    "pointInTime": week(3).isoformat(),
                    "maximumCapacity": 1,
                }
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert "capacity:write" in response.get_json()["message"]


def test_members_edit_capacity_too(browser, make_member, owner, owned_factory, db_session):
    member = make_member(
        OrganizationKind.FACTORY, Role.FACTORY_MEMBER, organization=owner.organization
    )
    browser.login(member)
    response = browser.api(
        "PUT",
        f"/api/v1/factories/{owned_factory.id}/capacity",
        json={
            "capacities": [
                {
                    "capabilityId": "milling_5axis",
                    "pointInTime": week(2).isoformat(),
                    "maximumCapacity": 33,
                }
            ]
        },
    )
    assert response.status_code == 200


def test_weeks_past_the_end_of_the_calendar_are_a_named_4xx(browser, owner, owned_factory):
    browser.login(owner)
    url = f"/api/v1/factories/{owned_factory.id}/capacity"
    past_the_end = "12 weeks from 9999-W52 run past the end of the calendar"
    response = browser.get(url, query_string={"week_from": "9999-W52"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == [{"field": "week_from", "message": past_the_end}]
    response = browser.get(url, query_string={"week_from": "9999-12-31", "weeks": 1})
    assert response.status_code == 200 and response.get_json()["weeks"] == ["9999-W52"]

    response = browser.api(
        "POST", f"{url}/fill", json={"firstWeek": "9999-W52", "weeks": 2, "hours": 8}
    )
    assert response.status_code == 422
    assert response.get_json()["fields"] == [
        {"field": "firstWeek", "message": "2 weeks from 9999-W52 run past the end of the calendar"}
    ]
    response = browser.api(
        "POST", f"{url}/copy", json={"sourceWeek": week_label(week(1)), "targetWeeks": ["9999-W52"]}
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "targetWeeks"
    response = browser.api("POST", f"{url}/close", json={"week": "9999-W52"})
    assert response.status_code == 422 and response.get_json()["fields"][0]["field"] == "week"
    # The calendar page's cells name their week: the last one is too far ahead, no more.
    cell = browser.client.post(
        f"/supply/factories/{owned_factory.id}/capacity",
        data={"max:milling_5axis:9999-12-27": "8"},
        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf_token()},
    ).get_data(as_text=True)
    assert "week 9999-W52 is more than two years ahead" in cell


def test_bulk_actions_name_fields_as_the_api_does(browser, owner, owned_factory):
    browser.login(owner)
    url = f"/api/v1/factories/{owned_factory.id}/capacity"
    response = browser.api(
        "POST",
        f"{url}/fill",
        json={"hours": 8, "firstWeek": week_label(week(1)), "weeks": 1, "capabilityIds": ["sls"]},
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "validation_failed",
        "message": "capabilityIds: not capabilities of this factory: sls",
        "fields": [{"field": "capabilityIds", "message": "not capabilities of this factory: sls"}],
    }
    response = browser.api(
        "POST",
        f"{url}/copy",
        json={"sourceWeek": week_label(week(1)), "targetWeeks": [week_label(week(1))]},
    )
    assert response.get_json()["fields"] == [
        {"field": "targetWeeks", "message": "a week cannot be copied onto itself"}
    ]


def test_the_fill_form_names_every_problem_at_once(browser, owner, live_factory, db_session):
    factory = live_factory(organization_id=owner.organization.id, weekly=None)
    db_session.commit()
    browser.login(owner)
    response = browser.form(
        f"/supply/factories/{factory.id}/capacity/fill",
        {"hours": "", "first_week": week(1).isoformat(), "weeks": "999"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="hours-errors"' in page and 'id="weeks-errors"' in page
    assert "must be from 1 to" in page.split('id="weeks-errors"')[1].split("</ul>")[0]
