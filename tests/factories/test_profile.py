"""The standardized profile: Catena-X names, a JSON Schema, and a lossless round trip."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from factories.capacity.calendar import capacity_grid
from factories.credit.score import COMPONENTS, PRIOR_MEAN
from factories.errors import FactoryError
from factories.profile.reader import import_profile
from factories.profile.schema import (
    ENVELOPE_PROPERTIES,
    CapabilityEntry,
    CapacityBlock,
    CapacityEntry,
    CertificationEntry,
    Constraint,
    Credit,
    FactoryProfile,
    Location,
    MaterialEntry,
    Price,
    RangeProperty,
    canonical,
    profile_json_schema,
)
from factories.profile.writer import export_profile
from factories.taxonomy import CERTIFICATIONS, PROCESSES, TOLERANCE_CLASSES, materials_for
from tests.factories.conftest import (
    NOW,
    TODAY,
    capability_details,
    certification_details,
    week,
)


@pytest.fixture
def rich_factory(make_factory):
    return make_factory(
        capabilities=[
            capability_details("milling_5axis"),
            capability_details(
                "injection_molding", materials=("abs", "pa12"), hourly_rate_minor=6000
            ),
        ],
        certifications=[
            certification_details("ISO9001"),
            certification_details("AS9100", valid_until=TODAY - timedelta(days=3)),
        ],
        hours={"milling_5axis": [(1, "72.25", "30.5")]},
        # What a factory without ledger events has earned: a restore keeps it.
        credit=PRIOR_MEAN,
    )


def test_export_uses_catena_x_names(db_session, rich_factory):
    document = export_profile(db_session, rich_factory).model_dump(mode="json")
    assert document["factoryId"] == rich_factory.global_id
    assert document["capacity"]["unitOfMeasure"] == "unit:hourUnitOfTime"
    entry = next(
        c
        for c in document["capacity"]["capacities"]
        if c["capabilityId"] == "milling_5axis" and c["pointInTime"] == week(1).isoformat()
    )
    assert entry == {
        "capabilityId": "milling_5axis",
        "pointInTime": week(1).isoformat(),
        "actualCapacity": 72.25,
        "maximumCapacity": 72.25,
        "bookedCapacity": 30.5,
    }
    milling = next(c for c in document["capabilities"] if c["capabilityId"] == "milling_5axis")
    assert milling["capabilityLabel"] == {"en": "CNC milling, 5-axis", "zh": "五轴数控铣削"}
    assert milling["processClass"] == "https://w3id.org/din8580/MainGroup3"
    assert milling["generalizes"] == ["milling", "milling_3axis"]
    assert milling["price"] == {
        "value": 95.5,
        "currency": "EUR",
        "unitForPrice": "unit:hourUnitOfTime",
    }
    assert {p["propertyId"]: p["maxValue"] for p in milling["properties"]} == {
        "workpieceLength": 800,
        "workpieceWidth": 600,
        "workpieceHeight": 400,
    }
    assert milling["constraints"] == [
        {"constraintId": "batchSize", "minValue": 1, "maxValue": 500, "unit": "unit:piece"}
    ]
    certificate = document["certifications"][0]
    assert set(certificate) == {
        "certificateType",
        "certificateVersion",
        "registrationNumber",
        "issuer",
        "validFrom",
        "validUntil",
    }


def test_exported_profile_validates_against_the_published_schema(db_session, rich_factory):
    schema = profile_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    document = export_profile(db_session, rich_factory).model_dump(mode="json")
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    document["capabilities"][0]["price"]["cost"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


def test_restore_brings_back_exactly_what_was_exported(db_session, rich_factory):
    before = export_profile(db_session, rich_factory)
    # Change everything the profile carries ...
    rich_factory.name, rich_factory.status, rich_factory.credit_score = "Other", "suspended", 0.1
    changed = before.model_copy(deep=True)
    changed.certifications = changed.certifications[:1]
    changed.capabilities = [c for c in changed.capabilities if c.capabilityId == "milling_5axis"]
    changed.capabilities[0].price.value = Decimal("1.00")
    changed.capacity.capacities = [
        c.model_copy(update={"maximumCapacity": Decimal(99), "actualCapacity": Decimal(99)})
        for c in changed.capacity.capacities
        if c.capabilityId == "milling_5axis"
    ]
    import_profile(db_session, changed, None, TODAY, NOW, restore=True)
    assert export_profile(db_session, rich_factory) != before
    # ... and restore the export: the profile comes back field for field.
    import_profile(db_session, before, None, TODAY, NOW, restore=True)
    db_session.expire_all()
    assert export_profile(db_session, rich_factory) == before


def test_owner_import_keeps_status_credit_and_booked_hours(db_session, rich_factory):
    profile = export_profile(db_session, rich_factory)
    document = profile.model_dump(mode="json")
    document["status"] = "verified"
    document["credit"] = {"score": 1.0}
    document["name"] = "Keller Präzision GmbH"
    for entry in document["capacity"]["capacities"]:
        entry["bookedCapacity"] = 0
    rich_factory.status = "pending"
    import_profile(
        db_session,
        FactoryProfile.model_validate(document),
        rich_factory.organization_id,
        TODAY,
        NOW,
        into=rich_factory,
    )
    after = export_profile(db_session, rich_factory)
    assert after.name == "Keller Präzision GmbH"
    assert after.status == "pending" and after.credit.score == PRIOR_MEAN
    booked = {(c.capabilityId, c.pointInTime): c.bookedCapacity for c in after.capacity.capacities}
    assert booked[("milling_5axis", week(1))] == Decimal("30.50")


def test_owner_import_cannot_cut_below_booked_or_rewrite_the_past(db_session, rich_factory):
    document = export_profile(db_session, rich_factory).model_dump(mode="json")
    for entry in document["capacity"]["capacities"]:
        if entry["pointInTime"] == week(1).isoformat() and entry["capabilityId"] == "milling_5axis":
            entry["maximumCapacity"] = entry["actualCapacity"] = 20
    document["capacity"]["capacities"].append(
        {
            "capabilityId": "milling_5axis",
            "pointInTime": week(-2).isoformat(),
            "actualCapacity": 10,
            "maximumCapacity": 10,
        }
    )
    with pytest.raises(FactoryError) as caught:
        import_profile(
            db_session,
            FactoryProfile.model_validate(document),
            rich_factory.organization_id,
            TODAY,
            NOW,
        )
    fields = [f for f, _ in caught.value.problems]
    index = next(
        i
        for i, c in enumerate(document["capacity"]["capacities"])
        if c["pointInTime"] == week(1).isoformat() and c["capabilityId"] == "milling_5axis"
    )
    assert f"capacity.capacities[{index}].maximumCapacity" in fields
    assert (
        f"capacity.capacities[{len(document['capacity']['capacities']) - 1}].pointInTime" in fields
    )
    grid = capacity_grid(db_session, rich_factory, TODAY, NOW)
    assert grid.cell("milling_5axis", week(1)).maximum_hours == Decimal("72.25")


def test_import_names_the_faulty_profile_field_and_saves_nothing(
    db_session, rich_factory, factory_org
):
    document = export_profile(db_session, rich_factory).model_dump(mode="json")
    document["factoryId"] = f"urn:factoryweb:factory:{uuid.uuid4()}"
    document["capabilities"][1]["materials"].append({"materialFamily": "aluminium"})
    document["capabilities"][0]["properties"] = document["capabilities"][0]["properties"][:2]
    document["certifications"][0]["certificateType"] = "ISO0000"
    document["location"]["country"] = "QQ"
    with pytest.raises(FactoryError) as caught:
        import_profile(
            db_session, FactoryProfile.model_validate(document), factory_org().id, TODAY, NOW
        )
    fields = {f for f, _ in caught.value.problems}
    assert {
        "capabilities[0].properties",
        "certifications[0].certificateType",
        "location.country",
    } <= fields
    assert any(f.startswith("capabilities[") and f.endswith(".materials") for f in fields)
    with pytest.raises(ValidationError) as invalid:
        FactoryProfile.model_validate({**document, "colour": "blue"})
    assert invalid.value.errors()[0]["loc"] == ("colour",)


def test_a_factory_of_another_organization_cannot_be_overwritten(
    db_session, rich_factory, factory_org
):
    profile = export_profile(db_session, rich_factory)
    with pytest.raises(FactoryError) as caught:
        import_profile(db_session, profile, factory_org().id, TODAY, NOW)
    assert caught.value.field == "factoryId"


# Property-based: any valid profile survives import and export unchanged. -----------------

text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=20
)
hours = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False)


@st.composite
def capabilities(draw):
    codes = draw(st.lists(st.sampled_from(sorted(PROCESSES)), min_size=0, max_size=3, unique=True))
    entries = []
    for code in codes:
        allowed = sorted(m.code for m in materials_for(code))
        low = draw(st.integers(1, 1000))
        entries.append(
            CapabilityEntry(
                capabilityId=code,
                properties=[
                    RangeProperty(propertyId=p, maxValue=draw(st.integers(1, 100_000)))
                    for p in ENVELOPE_PROPERTIES
                ],
                materials=[
                    MaterialEntry(materialFamily=m)
                    for m in draw(
                        st.lists(st.sampled_from(allowed), min_size=1, max_size=4, unique=True)
                    )
                ],
                generalTolerance=draw(st.sampled_from(TOLERANCE_CLASSES)),
                constraints=[
                    Constraint(
                        constraintId="batchSize",
                        minValue=low,
                        maxValue=low + draw(st.integers(0, 10_000)),
                    )
                ],
                price=Price(
                    value=draw(st.decimals(min_value=0, max_value=100_000, places=2)),
                    currency=draw(st.sampled_from(["EUR", "CNY", "PLN", "USD"])),
                ),
            )
        )
    return entries


@st.composite
def profiles(draw):
    caps = draw(capabilities())
    capacities = []
    for cap in caps:
        for n in draw(st.lists(st.integers(-3, 20), max_size=4, unique=True)):
            maximum = draw(hours)
            capacities.append(
                CapacityEntry(
                    capabilityId=cap.capabilityId,
                    pointInTime=week(n),
                    maximumCapacity=maximum,
                    actualCapacity=draw(st.decimals(min_value=0, max_value=maximum, places=2)),
                    bookedCapacity=draw(st.decimals(min_value=0, max_value=maximum, places=2)),
                )
            )
    certs = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.dates(date(2015, 1, 1), date(2030, 1, 1)))
        certs.append(
            CertificationEntry(
                certificateType=draw(st.sampled_from(sorted(CERTIFICATIONS))),
                certificateVersion=draw(st.sampled_from(["", "2015", "D"])),
                registrationNumber=draw(text),
                issuer=draw(text),
                validFrom=start,
                validUntil=start + timedelta(days=draw(st.integers(0, 2000))),
            )
        )
    updated = draw(
        st.none() | st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC))
    )
    return canonical(
        FactoryProfile(
            factoryId=f"urn:factoryweb:factory:{draw(st.uuids(version=4))}",
            name=draw(text),
            status=draw(st.sampled_from(["pending", "verified", "suspended"])),
            statusReason=draw(st.sampled_from(["", "Documents missing"])),
            location=Location(
                country=draw(st.sampled_from(["DE", "CN", "IT", "PL"])),
                region=draw(text),
                city=draw(st.sampled_from(["", "Ulm", "苏州"])),
                latitude=draw(st.floats(-90, 90, allow_nan=False)),
                longitude=draw(st.floats(-180, 180, allow_nan=False)),
            ),
            certifications=certs,
            capabilities=caps,
            capacity=CapacityBlock(updatedAt=updated, capacities=capacities),
            # Credit is earned on the ledger: a factory restored without events is at the prior.
            credit=Credit(score=PRIOR_MEAN),
        )
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=profiles())
def test_any_valid_profile_round_trips_losslessly(db_session, factory_org, profile):
    example = db_session.begin_nested()  # each example starts from the same database
    try:
        factory = import_profile(db_session, profile, factory_org().id, TODAY, NOW, restore=True)
        db_session.expire_all()
        exported = export_profile(db_session, factory)
        # A factory restored without events has the prior in every part of its score.
        assert exported.credit is not None
        assert all(c.events == 0 for c in exported.credit.components)
        exported = exported.model_copy(update={"credit": Credit(score=exported.credit.score)})
        assert exported == profile
        again = FactoryProfile.model_validate_json(exported.model_dump_json())
        assert again == profile
    finally:
        example.rollback()


def test_owner_import_speaks_the_calendars_rules(db_session, rich_factory):
    """The import checks capacity with the calendar's rules, in the calendar's words,
    each named at its place in the profile."""
    document = export_profile(db_session, rich_factory).model_dump(mode="json")
    entries = document["capacity"]["capacities"]
    index = next(
        i
        for i, c in enumerate(entries)
        if c["pointInTime"] == week(1).isoformat() and c["capabilityId"] == "milling_5axis"
    )
    entries[index]["maximumCapacity"] = entries[index]["actualCapacity"] = 20
    entries.append(
        {
            "capabilityId": "milling_5axis",
            "pointInTime": (week(2) + timedelta(days=1)).isoformat(),
            "actualCapacity": 5,
            "maximumCapacity": 10,
        }
    )
    entries.append(
        {
            "capabilityId": "milling_5axis",
            "pointInTime": week(3).isoformat(),
            "actualCapacity": 11,
            "maximumCapacity": 10,
        }
    )
    with pytest.raises(FactoryError) as caught:
        import_profile(
            db_session,
            FactoryProfile.model_validate(document),
            rich_factory.organization_id,
            TODAY,
            NOW,
        )
    problems = dict(caught.value.problems)
    assert problems[f"capacity.capacities[{index}].maximumCapacity"] == (
        "milling_5axis, week 2026-W49: 30.5 h are already booked, so the maximum cannot be "
        "20 h (10.5 h too little)"
    )
    monday = len(entries) - 2
    assert problems[f"capacity.capacities[{monday}].pointInTime"] == (
        f"{(week(2) + timedelta(days=1)).isoformat()} is not the Monday of an ISO week"
    )
    assert problems[f"capacity.capacities[{monday + 1}].actualCapacity"] == (
        "planned hours must be between 0 and the maximum"
    )


def test_the_documented_example_is_a_valid_profile():
    example = Path(__file__).parents[2] / "docs" / "examples" / "factory-profile.json"
    profile = FactoryProfile.model_validate_json(example.read_text())
    assert profile.liveStatus is not None and profile.credit is not None
    assert [c.name for c in profile.credit.components] == [c.name for c in COMPONENTS]
