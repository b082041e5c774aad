"""Registering machines: the factory's pages, the API (people, and machine clients with
the capacity:write scope), and `factoryweb telemetry machine add|list`."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from factories.models import utcnow
from factories.telemetry.models import Machine
from marketplace.accounts.models import OrganizationKind, Role
from tests.accounts.test_machine_clients import create_client_in_ui, get_token
from tests.factories.conftest import capability_details

pytestmark = pytest.mark.postgres


@pytest.fixture
def owner(make_member):  # type: ignore[no-untyped-def]
    return make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)


@pytest.fixture
def own_factory(make_factory, owner, db_session):  # type: ignore[no-untyped-def]
    now = utcnow()
    factory = make_factory(
        organization_id=owner.organization.id,
        capabilities=[capability_details("milling_5axis"), capability_details("turning")],
        today=now.date(),
        now=now,
    )
    db_session.commit()
    return factory


def token(browser, client, scopes):  # type: ignore[no-untyped-def]
    client_id, secret = create_client_in_ui(browser, scopes=scopes)
    return get_token(client, client_id, secret).get_json()["access_token"]


def test_the_factory_registers_machines_on_its_pages(browser, owner, own_factory, db_session):
    browser.login(owner)
    url = f"/supply/factories/{own_factory.id}/machines"
    assert "No machines registered yet." in browser.get(url).get_data(as_text=True)
    refused = browser.form(
        url, {"machine_id": "M/07", "process_code": "milling_5axis", "nominal_hours": "200"}
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "may not contain / + # or control characters" in page
    assert "must be between 0 and 168 hours" in page
    done = browser.form(
        url, {"machine_id": "M-07", "process_code": "milling_5axis", "nominal_hours": "32.5"}
    )
    assert done.status_code == 303
    page = browser.get(url).get_data(as_text=True)
    assert "M-07" in page and "never" in page
    calendar = browser.get(f"/supply/factories/{own_factory.id}/capacity").get_data(as_text=True)
    assert 'id="machines-milling_5axis"' in calendar and "<code>M-07</code>" in calendar
    assert "never spoke" in calendar
    assert 'id="machines-turning"' not in calendar
    zh = browser.get(url, headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "机器" in zh
    machine = db_session.exec(select(Machine)).one()
    gone = browser.form(f"{url}/{machine.id}/delete", {})
    assert gone.status_code == 303
    assert db_session.exec(select(Machine)).all() == []


def test_machine_clients_register_machines_with_the_capacity_scope(
    browser, client, owner, own_factory, make_member
):
    browser.login(owner)
    writer = token(browser, client, ("capacity:write",))
    reader = token(browser, client, ("orders:read",))
    url = f"/api/v1/factories/{own_factory.id}/machines"
    body = {"machineId": "M-08", "process": "turning", "hoursPerWeek": 60}
    assert (
        client.post(url, json=body, headers={"Authorization": f"Bearer {reader}"}).status_code
        == 403
    )
    assert client.application.test_client().post(url, json=body).status_code == 401
    created = client.post(url, json=body, headers={"Authorization": f"Bearer {writer}"})
    assert created.status_code == 201, created.get_data(as_text=True)
    shown = created.get_json()
    assert shown["topic"].endswith("/machines/M-08/state") and shown["silent"] is True
    bad = client.post(
        url,
        json={"machineId": "M-08", "process": "welding_nope", "hoursPerWeek": 170},
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.get_json()["fields"]} == {
        "machineId",
        "process",
        "hoursPerWeek",
    }
    listed = client.get(url, headers={"Authorization": f"Bearer {writer}"}).get_json()
    assert [m["machineId"] for m in listed["machines"]] == ["M-08"]
    stranger = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    other = type(browser)(client.application.test_client())
    other.login(stranger)
    assert other.get(url).status_code == 404


def test_the_command_line_adds_and_lists_machines(app, own_factory):
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=[
            "telemetry",
            "machine",
            "add",
            own_factory.global_id,
            "M-01",
            "--process",
            "milling_5axis",
            "--hours-per-week",
            "40",
        ]
    )
    assert added.exit_code == 0, added.output
    assert "factoryweb/v1/factories/" in added.output
    twice = runner.invoke(
        args=[
            "telemetry",
            "machine",
            "add",
            str(own_factory.id),
            "M-01",
            "--process",
            "milling_5axis",
            "--hours-per-week",
            "400",
        ]
    )
    assert twice.exit_code == 2
    assert "machine_id" in twice.output and "nominal_hours" in twice.output
    listed = runner.invoke(args=["telemetry", "machine", "list", str(own_factory.id), "--json"])
    assert listed.exit_code == 0
    (machine,) = json.loads(listed.output)["machines"]
    assert machine["machineId"] == "M-01" and machine["nominalHoursPerWeek"] == 40
    assert runner.invoke(args=["telemetry", "machine", "list", "999999"]).exit_code == 2
