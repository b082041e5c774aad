"""Onboarding: a factory registers pending with its certifications; operators decide."""

from datetime import timedelta

import pytest
from sqlmodel import select

from factories.certifications import (
    certifications_of,
    is_valid_on,
    valid_certificate_types,
    valid_certifications,
)
from factories.errors import FactoryError
from factories.models import Certification, Factory
from factories.onboarding import (
    FactoryDetails,
    add_certification,
    register_factory,
    remove_certification,
    suspend_factory,
    update_factory,
    verify_factory,
)
from tests.factories.conftest import NOW, TODAY, certification_details


def details(**overrides):
    values = {
        "name": "  Keller   Präzision ",
        "country": "de",
        "region": "Baden-Württemberg",
        "city": "Stuttgart",
        "latitude": 48.78,
        "longitude": 9.18,
    }
    values.update(overrides)
    return FactoryDetails(**values)


def test_a_registered_factory_is_pending_with_its_certifications(db_session, factory_org):
    org = factory_org()
    factory = register_factory(db_session, org.id, details(), [certification_details()])
    assert factory.status == "pending"
    assert factory.organization_id == org.id
    assert factory.name == "Keller Präzision" and factory.country == "DE"
    assert factory.global_id.startswith("urn:factoryweb:factory:")
    [cert] = certifications_of(db_session, factory.id)
    assert cert.certificate_type == "ISO9001" and cert.issuer == "TÜV SÜD"


def test_every_bad_field_is_named_and_nothing_is_saved(db_session, factory_org):
    org = factory_org()
    bad_cert = certification_details("ISO0000")
    bad_cert = type(bad_cert)(
        **{**bad_cert.__dict__, "valid_until": bad_cert.valid_from - timedelta(days=1)}
    )
    with pytest.raises(FactoryError) as caught:
        register_factory(
            db_session,
            org.id,
            details(name=" ", country="XX", latitude=91.0, longitude=float("nan")),
            [bad_cert],
        )
    fields = {f for f, _ in caught.value.problems}
    assert fields == {
        "name",
        "country",
        "latitude",
        "longitude",
        "certifications[0].certificate_type",
        "certifications[0].valid_until",
    }
    assert db_session.exec(select(Factory).where(Factory.organization_id == org.id)).all() == []


def test_certification_counts_only_within_its_validity(db_session, make_factory):
    factory = make_factory(
        certifications=[
            certification_details("ISO9001", valid_until=TODAY),  # last valid day
            certification_details("AS9100", valid_until=TODAY - timedelta(days=1)),  # expired
            certification_details(  # not yet in force
                "ISO14001",
                valid_from=TODAY + timedelta(days=1),
                valid_until=TODAY + timedelta(days=900),
            ),
        ]
    )
    assert [c.certificate_type for c in valid_certifications(db_session, factory.id, TODAY)] == [
        "ISO9001"
    ]
    assert valid_certificate_types(db_session, [factory.id], TODAY) == {factory.id: {"ISO9001"}}
    tomorrow = TODAY + timedelta(days=1)
    assert valid_certificate_types(db_session, [factory.id], tomorrow) == {factory.id: {"ISO14001"}}
    expired = db_session.exec(
        select(Certification).where(Certification.certificate_type == "AS9100")
    ).one()
    assert not is_valid_on(expired, TODAY)


def test_certifications_are_added_and_removed(db_session, make_factory):
    factory = make_factory(certifications=[])
    cert = add_certification(db_session, factory, certification_details("IATF16949"))
    assert [c.id for c in certifications_of(db_session, factory.id)] == [cert.id]
    remove_certification(db_session, factory, cert.id)
    assert certifications_of(db_session, factory.id) == []
    with pytest.raises(FactoryError) as caught:
        remove_certification(db_session, factory, cert.id)
    assert caught.value.field == "certification"


def test_update_validates_like_registration(db_session, make_factory):
    factory = make_factory()
    update_factory(db_session, factory, details(name="Keller Werk 2", region="Bayern"))
    assert (factory.name, factory.region) == ("Keller Werk 2", "Bayern")
    with pytest.raises(FactoryError) as caught:
        update_factory(db_session, factory, details(region=""))
    assert caught.value.field == "region"
    assert factory.region == "Bayern"


def test_operator_verifies_and_suspends_with_a_reason(db_session, make_factory):
    factory = make_factory(status="pending")
    verify_factory(db_session, factory, NOW)
    assert factory.status == "verified" and factory.verified_at == NOW
    with pytest.raises(FactoryError) as caught:
        suspend_factory(db_session, factory, "   ")
    assert caught.value.field == "reason"
    suspend_factory(db_session, factory, "Certificate documents   could not be confirmed")
    assert factory.status == "suspended"
    assert factory.status_reason == "Certificate documents could not be confirmed"
    verify_factory(db_session, factory, NOW)
    assert factory.status_reason == ""
