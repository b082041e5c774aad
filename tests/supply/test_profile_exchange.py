"""Profile schema, profile and AAS export/import over the API, the pages and the CLI."""

import io
import json
import uuid

import jsonschema
from basyx.aas import model
from basyx.aas.adapter.json import read_aas_json_file
from basyx.aas.adapter.xml import read_aas_xml_file
from sqlmodel import select

from factories.credit.score import PRIOR_MEAN
from factories.models import Factory
from factories.profile.schema import Credit, FactoryProfile


def test_schema_is_published_and_exported_profiles_follow_it(browser, owner, owned_factory):
    response = browser.get("/api/v1/schemas/factory-profile.json")
    assert response.status_code == 200
    schema = response.get_json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name in ("factoryId", "capabilities", "capacity", "certifications", "location"):
        assert name in schema["properties"]
    capacity_entry = schema["$defs"]["CapacityEntry"]["properties"]
    assert {"capabilityId", "pointInTime", "actualCapacity", "maximumCapacity"} <= set(
        capacity_entry
    )
    assert schema["$defs"]["Price"]["properties"].keys() == {"value", "currency", "unitForPrice"}
    browser.login(owner)
    profile = browser.get(f"/api/v1/factories/{owned_factory.id}/profile").get_json()
    jsonschema.validate(profile, schema, cls=jsonschema.Draft202012Validator)


def test_profile_put_back_is_lossless_and_errors_name_the_field(browser, owner, owned_factory):
    browser.login(owner)
    url = f"/api/v1/factories/{owned_factory.id}/profile"
    exported = browser.get(url).get_json()
    response = browser.api("PUT", url, json=exported)
    assert response.status_code == 200, response.get_json()
    after = browser.get(url).get_json()
    exported["capacity"].pop("updatedAt"), after["capacity"].pop("updatedAt")
    assert after == exported

    broken = json.loads(json.dumps(exported))
    broken["capabilities"][0]["generalTolerance"] = "ISO 2768-z"
    broken["capacity"]["capacities"][3]["maximumCapacity"] = -1
    response = browser.api("PUT", url, json=broken)
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "capacity.capacities[3].maximumCapacity"
    del broken["capacity"]["capacities"][3]
    response = browser.api("PUT", url, json=broken)
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "capabilities[0].generalTolerance"


def test_aas_download_reads_with_basyx_and_imports_back(browser, owner, owned_factory):
    browser.login(owner)
    profile = browser.get(f"/api/v1/factories/{owned_factory.id}/profile").get_json()
    xml = browser.get(f"/api/v1/factories/{owned_factory.id}/aas?format=xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    store = read_aas_xml_file(io.BytesIO(xml.data), failsafe=False)
    [shell] = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    assert shell.asset_information.global_asset_id == owned_factory.global_id
    js = browser.get(f"/api/v1/factories/{owned_factory.id}/aas?format=json")
    assert len(read_aas_json_file(io.StringIO(js.get_data(as_text=True)), failsafe=False)) == 6
    response = browser.api(
        "POST",
        f"/api/v1/factories/{owned_factory.id}/aas",
        data=xml.data,
        headers={"Content-Type": "application/xml"},
    )
    assert response.status_code == 200, response.get_json()
    imported = response.get_json()
    for document in (imported, profile):
        document["capacity"].pop("updatedAt")
    assert imported == profile
    response = browser.api(
        "POST",
        f"/api/v1/factories/{owned_factory.id}/aas",
        data=b"<environment/>",
        headers={"Content-Type": "application/xml"},
    )
    assert response.status_code == 422


def test_page_export_and_upload(browser, owner, owned_factory):
    browser.login(owner)
    base = f"/supply/factories/{owned_factory.id}"
    page = browser.get(base).get_data(as_text=True)
    for fmt in ("profile-json", "aas-json", "aas-xml"):
        assert f"{base}/export/{fmt}" in page
    download = browser.get(f"{base}/export/aas-json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    response = browser.form(
        f"{base}/import",
        {"file": (io.BytesIO(download.data), "factory.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    bad = json.loads(browser.get(f"{base}/export/profile-json").data)
    bad["location"]["latitude"] = 123
    response = browser.form(
        f"{base}/import",
        {"file": (io.BytesIO(json.dumps(bad).encode()), "factory.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "location.latitude" in response.get_data(as_text=True)


def test_cli_exports_every_format_and_imports_a_new_factory(
    app, owned_factory, db_session, tmp_path
):
    runner = app.test_cli_runner()
    for fmt, suffix in (("profile-json", "json"), ("aas-json", "json"), ("aas-xml", "xml")):
        out = tmp_path / f"f.{fmt}.{suffix}"
        result = runner.invoke(
            args=["factory", "export", owned_factory.global_id, "--format", fmt, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
    by_id = runner.invoke(args=["factory", "export", str(owned_factory.id)])
    assert by_id.exit_code == 0
    profile = FactoryProfile.model_validate_json(by_id.output)
    assert profile == FactoryProfile.model_validate_json(
        (tmp_path / "f.profile-json.json").read_text()
    )

    read_aas_xml_file(str(tmp_path / "f.aas-xml.xml"), failsafe=False)
    new_id = f"urn:factoryweb:factory:{uuid.uuid4()}"
    copy = tmp_path / "copy.xml"
    copy.write_bytes(
        (tmp_path / "f.aas-xml.xml")
        .read_bytes()
        .replace(owned_factory.global_id.encode(), new_id.encode())
    )
    result = runner.invoke(args=["factory", "import", str(copy)])
    assert result.exit_code == 0, result.output
    assert "created factory" in result.output
    imported = db_session.exec(select(Factory).where(Factory.global_id == new_id)).one()
    assert imported.organization_id != owned_factory.organization_id
    again = runner.invoke(args=["factory", "export", new_id])
    # Everything but credit, which is earned here, not imported: the prior, without events.
    again = FactoryProfile.model_validate_json(again.output)
    assert again.model_copy(update={"credit": Credit(score=again.credit.score)}) == (
        profile.model_copy(update={"factoryId": new_id, "credit": Credit(score=PRIOR_MEAN)})
    )
    assert all(c.events == 0 for c in again.credit.components)
    # Restoring the same file again is a restore, not a second factory.
    result = runner.invoke(args=["factory", "import", str(copy)])
    assert result.exit_code == 0 and "restored factory" in result.output


def test_cli_bad_input_exits_2_naming_the_field(app, owned_factory, tmp_path):
    runner = app.test_cli_runner()
    document = json.loads(runner.invoke(args=["factory", "export", str(owned_factory.id)]).output)
    document["capabilities"][0]["materials"] = [{"materialFamily": "unobtainium"}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(args=["factory", "import", str(path)])
    assert result.exit_code == 2
    assert "capabilities[0].materials" in result.output and "unobtainium" in result.output
    path.write_text("{not json")
    result = runner.invoke(args=["factory", "import", str(path)])
    assert result.exit_code == 2 and "file" in result.output
    result = runner.invoke(args=["factory", "export", "urn:factoryweb:factory:nope"])
    assert result.exit_code == 2 and "ID" in result.output
    result = runner.invoke(args=["factory", "export", str(owned_factory.id), "--format", "pdf"])
    assert result.exit_code == 2 and "--format" in result.output


def test_cli_ids_beyond_the_database_integers_exit_2_naming_the_argument(
    app, owned_factory, tmp_path
):
    runner = app.test_cli_runner()
    path = tmp_path / "factory.json"
    path.write_text(runner.invoke(args=["factory", "export", str(owned_factory.id)]).output)
    for huge in ("9999999999", str(2**63), "1" + "0" * 30):
        result = runner.invoke(args=["factory", "export", huge])
        assert result.exit_code == 2, result.output
        assert f"ID: no factory '{huge}'" in result.output
        result = runner.invoke(args=["factory", "import", str(path), "--organization", huge])
        assert result.exit_code == 2, result.output
        assert f"--organization: no factory organization {huge}" in result.output
    # Digits that are not ASCII ones name no id either.
    result = runner.invoke(args=["factory", "export", "²"])
    assert result.exit_code == 2 and "ID: no factory" in result.output
