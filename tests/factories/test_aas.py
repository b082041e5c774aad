"""Asset Administration Shell export and import, read back with BaSyx's own readers."""

import io
import json
import uuid

import pytest
from basyx.aas import model
from basyx.aas.adapter.json import read_aas_json_file
from basyx.aas.adapter.xml import read_aas_xml_file

from factories.aas import reader as aas_reader
from factories.aas import schema as aas_schema
from factories.aas import writer as aas_writer
from factories.aas.schema import carried_by_shell
from factories.credit.score import PRIOR_MEAN
from factories.errors import FactoryError
from factories.profile.reader import import_profile
from factories.profile.writer import export_profile
from tests.factories.conftest import NOW, TODAY, capability_details, certification_details


@pytest.fixture
def factory(make_factory):
    return make_factory(
        capabilities=[
            capability_details("milling_5axis"),
            capability_details("sls", materials=("pa12",), max_height_mm=300),
        ],
        certifications=[certification_details("ISO9001"), certification_details("AS9100")],
        hours={"milling_5axis": [(2, "64.5", "20.25")]},
    )


def read_with_basyx(data: bytes, fmt: str) -> model.DictIdentifiableStore:
    if fmt == "aas-json":
        return read_aas_json_file(io.StringIO(data.decode()), failsafe=False)
    return read_aas_xml_file(io.BytesIO(data), failsafe=False)


def semantic(element) -> str:
    return element.semantic_id.key[0].value


@pytest.mark.parametrize("fmt", ["aas-json", "aas-xml"])
def test_basyx_reads_the_exported_shell_with_its_submodels(db_session, factory, fmt):
    data = aas_writer.write(export_profile(db_session, factory), fmt)
    store = read_with_basyx(data, fmt)
    [shell] = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    assert shell.asset_information.global_asset_id == factory.global_id
    submodels = {semantic(o): o for o in store if isinstance(o, model.Submodel)}
    assert set(submodels) == {
        "https://admin-shell.io/idta/nameplate/3/0/Nameplate",
        "https://admin-shell.io/idta/CompanyData/1/0/CompanyData",
        "https://admin-shell.io/idta/SubmodelTemplate/CapabilityDescription/1/0",
        aas_schema.CAPACITY,
        aas_schema.STANDING,
    }
    assert {r.key[0].value for r in shell.submodel} == {s.id for s in submodels.values()}

    nameplate = submodels["https://admin-shell.io/idta/nameplate/3/0/Nameplate"]
    assert semantic(nameplate.get_referable("ManufacturerName")) == "0112/2///61987#ABA565#009"
    address = nameplate.get_referable("AddressInformation")
    assert semantic(address.get_referable("NationalCode")) == "0173-1#02-AAO134#002"
    assert address.get_referable("NationalCode").value["en"] == "DE"


def test_capability_description_follows_idta_02020(db_session, factory):
    data = aas_writer.write(export_profile(db_session, factory), "aas-json")
    store = read_with_basyx(data, "aas-json")
    [description] = [
        o
        for o in store
        if isinstance(o, model.Submodel) and semantic(o) == aas_schema.CAPABILITY_DESCRIPTION
    ]
    base = "https://admin-shell.io/idta/CapabilityDescription/"
    capability_set = description.get_referable("CapabilitySet")
    assert semantic(capability_set) == base + "CapabilitySet/1/0"
    containers = {c.id_short: c for c in capability_set.value}
    assert set(containers) == {"CapabilityContainer_milling_5axis", "CapabilityContainer_sls"}
    container = containers["CapabilityContainer_milling_5axis"]
    assert semantic(container) == base + "CapabilityContainer/1/0"
    capability = container.get_referable("milling_5axis")
    assert isinstance(capability, model.Capability)
    assert semantic(capability) == base + "Capability/1/0"
    assert container.get_referable("CapabilityComment").value["zh"] == "五轴数控铣削"
    property_set = container.get_referable("PropertySet")
    assert semantic(property_set) == base + "PropertySet/1/0"
    length = property_set.get_referable("PropertyContainer_workpieceLength")
    assert semantic(length) == base + "PropertyContainer/1/0"
    assert length.get_referable("WorkpieceLength").max == 800
    relations = container.get_referable("CapabilityRelations")
    assert semantic(relations) == base + "CapabilityRelations/1/0"
    generalized = relations.get_referable("GeneralizedBySet")
    assert {r.second.key[0].value for r in generalized.value} == {
        "urn:factoryweb:process:milling",
        "urn:factoryweb:process:milling_3axis",
    }
    assert all(semantic(r) == base + "CapabilityGeneralizedBy/1/0" for r in generalized.value)
    constraint = relations.get_referable("ConstraintSet").get_referable(
        "PropertyConstraintContainer_batchSize"
    )
    assert semantic(constraint) == base + "PropertyConstraintContainer/1/0"
    assert constraint.get_referable("BasicConstraint").value == "1 <= BatchSize <= 500"
    has_property = constraint.get_referable("ConstraintPropertyRelations").get_referable(
        "ConstraintHasProperty"
    )
    assert has_property.second.key[-1].value == "BatchSize"


@pytest.mark.parametrize("fmt", ["aas-json", "aas-xml"])
def test_shell_round_trip_is_lossless(db_session, factory, fmt):
    profile = export_profile(db_session, factory)
    data = aas_writer.write(profile, fmt)
    assert profile.credit is not None and profile.credit.components
    assert aas_reader.store_to_profile(read_with_basyx(data, fmt)) == carried_by_shell(profile)
    assert aas_reader.read(data, fmt) == carried_by_shell(profile)


@pytest.mark.parametrize("fmt", ["aas-json", "aas-xml"])
@pytest.mark.parametrize("microsecond", [249, 251061, 999999])
def test_capacity_timestamp_keeps_every_microsecond(db_session, factory, fmt, microsecond):
    # Fractions of a second that a reading through a float would cut a microsecond short.
    profile = export_profile(db_session, factory)
    updated_at = NOW.replace(microsecond=microsecond)
    updated = profile.capacity.model_copy(update={"updatedAt": updated_at})
    profile = profile.model_copy(update={"capacity": updated})
    data = aas_writer.write(profile, fmt)
    assert aas_reader.read(data, fmt) == carried_by_shell(profile)
    assert aas_reader.store_to_profile(read_with_basyx(data, fmt)).capacity.updatedAt == updated_at


@pytest.mark.parametrize("fmt", ["aas-json", "aas-xml"])
def test_shell_imports_into_a_new_factory_and_exports_the_same(
    db_session, factory, factory_org, fmt
):
    profile = export_profile(db_session, factory)
    data = aas_writer.write(profile, fmt)
    # The same files under a new id: a second marketplace importing this factory.
    new_id = f"urn:factoryweb:factory:{uuid.uuid4()}"
    data = data.replace(factory.global_id.encode(), new_id.encode())
    imported = import_profile(
        db_session, aas_reader.read(data, fmt), factory_org().id, TODAY, NOW, restore=True
    )
    assert imported.id != factory.id
    again = export_profile(db_session, imported)
    # Everything but credit, which is earned here, not imported: the prior, without events.
    assert again.credit is not None and again.credit.score == PRIOR_MEAN
    assert again.model_copy(update={"factoryId": factory.global_id, "credit": profile.credit}) == (
        profile
    )
    assert again.credit.components and all(c.events == 0 for c in again.credit.components)


def test_broken_shells_are_refused_with_the_place_named(db_session, factory):
    document = json.loads(aas_writer.write(export_profile(db_session, factory), "aas-json"))
    capacity = next(s for s in document["submodels"] if s["idShort"] == "Capacity")
    capacity["submodelElements"] = [
        e for e in capacity["submodelElements"] if e["idShort"] != "UnitOfMeasure"
    ]
    with pytest.raises(FactoryError) as caught:
        aas_reader.read(json.dumps(document).encode(), "aas-json")
    assert caught.value.field == "Capacity/UnitOfMeasure"
    document["submodels"] = [s for s in document["submodels"] if s["idShort"] != "Nameplate"]
    with pytest.raises(FactoryError) as caught:
        aas_reader.read(json.dumps(document).encode(), "aas-json")
    assert caught.value.field == "Nameplate"
    with pytest.raises(FactoryError) as caught:
        aas_reader.read(b"<environment>", "aas-xml")
    assert caught.value.field == "file"


def test_xml_with_entities_is_refused(db_session, factory):
    xml = aas_writer.write(export_profile(db_session, factory), "aas-xml").decode()
    head, _, body = xml.partition("?>")
    hostile = f'{head}?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>{body}'
    hostile = hostile.replace(factory.name, "&x;", 1)
    with pytest.raises(FactoryError) as caught:
        aas_reader.read(hostile.encode(), "aas-xml")
    assert caught.value.field == "file" and "document type" in caught.value.message


def test_xml_in_another_encoding_cannot_hide_a_doctype(db_session, factory):
    """UTF-16 (by its byte order mark or its declaration) or UTF-32 would hide the
    declaration from a check on the bytes: only UTF-8 is read."""
    xml = aas_writer.write(export_profile(db_session, factory), "aas-xml").decode()
    head, _, body = xml.partition("?>")
    hostile = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE e [<!ENTITY x "y">]>{body}'
    for data in (
        hostile.encode("utf-16"),
        hostile.encode("utf-16-le"),
        hostile.encode("utf-32"),
        f'<?xml version="1.0" encoding="ISO-8859-1"?>{body}'.encode("latin-1", "replace"),
        b"\xef\xbb\xbf" + f"{head}?><!DOCTYPE e>{body}".encode(),
    ):
        with pytest.raises(FactoryError) as caught:
            aas_reader.read(data, "aas-xml")
        assert caught.value.field == "file"
    # UTF-8, with or without its byte order mark, is read.
    assert aas_reader.read(b"\xef\xbb\xbf" + xml.encode(), "aas-xml").name == factory.name


def test_format_is_detected_from_the_content(db_session, factory):
    profile = export_profile(db_session, factory)
    assert aas_reader.detect_format(profile.model_dump_json().encode()) == "profile-json"
    assert aas_reader.detect_format(aas_writer.write(profile, "aas-json")) == "aas-json"
    assert aas_reader.detect_format(aas_writer.write(profile, "aas-xml")) == "aas-xml"
