"""On Chinese pages the supply side speaks Chinese throughout: taxonomy codes appear as
their labels, and what the services refuse (capability editor, capacity calendar) is said
in Chinese, values and all. The API keeps speaking English."""

import io
import json

from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES
from tests.supply.conftest import week


def chinese(browser):
    browser.get("/lang/zh")
    return browser


def test_factory_page_shows_labels_not_codes(browser, owner, owned_factory):
    browser.login(owner)
    page = chinese(browser).get(f"/supply/factories/{owned_factory.id}").get_data(as_text=True)
    table = page.split('id="capabilities"')[1].split("</table>")[0]
    assert PROCESSES["milling_5axis"].zh in table and ">milling_5axis<" not in table
    assert MATERIALS["titanium"].zh in table and "titanium" not in table
    certificates = page.split('id="certifications"')[1].split("</table>")[0]
    assert CERTIFICATIONS["ISO9001"].zh in certificates


def test_capacity_refusal_is_said_in_chinese(browser, owner, live_factory, db_session):
    factory = live_factory(
        organization_id=owner.organization.id, hours={"milling_5axis": [(1, "40", "12.5")]}
    )
    db_session.commit()
    browser.login(owner)
    chinese(browser)
    below = f"max:milling_5axis:{week(1).isoformat()}"
    cell = browser.client.post(
        f"/supply/factories/{factory.id}/capacity",
        data={below: "10"},
        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf_token()},
    ).get_data(as_text=True)
    assert "已预订 12.5 小时" in cell and "少了 2.5 小时" in cell
    assert PROCESSES["milling_5axis"].zh in cell and "already booked" not in cell
    # The API names the same problem in English, for machines and their logs.
    api = browser.api(
        "PUT",
        f"/api/v1/factories/{factory.id}/capacity",
        json={
            "capacities": [
                {
                    "capabilityId": "milling_5axis",
                    "pointInTime": week(1).isoformat(),
                    "maximumCapacity": 10,
                }
            ]
        },
    ).get_json()
    assert "12.5 h are already booked" in api["fields"][0]["message"]


def test_capability_editor_names_problems_in_chinese(browser, owner, owned_factory):
    browser.login(owner)
    response = chinese(browser).form(
        f"/supply/factories/{owned_factory.id}/capabilities/new",
        {
            "process_code": "injection_molding",
            "materials": ["titanium"],
            "tolerance_class": "ISO 2768-m",
            "max_length_mm": "0",
            "max_width_mm": "10",
            "max_height_mm": "10",
            "batch_min": "1",
            "batch_max": "10",
            "hourly_rate": "50",
            "currency": "EUR",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"{MATERIALS['titanium'].zh} 无法用{PROCESSES['injection_molding'].zh}加工" in page
    assert "必须是 1 到 100000 之间的整数" in page.split('id="max_length_mm-errors"')[1]
    assert "cannot be processed" not in page and "must be a whole number" not in page


def test_import_refusal_is_said_in_chinese(browser, owner, owned_factory):
    browser.login(owner)
    base = f"/supply/factories/{owned_factory.id}"
    shell = json.loads(browser.get(f"{base}/export/aas-json").data)
    shell["submodels"] = [s for s in shell["submodels"] if s["idShort"] != "Nameplate"]
    response = chinese(browser).form(
        f"{base}/import",
        {"file": (io.BytesIO(json.dumps(shell).encode()), "factory.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nameplate: 缺少该子模型（语义 ID " in page and "is missing" not in page
