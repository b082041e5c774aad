"""Capabilities: taxonomy process, materials, envelope, tolerance, batch, rate."""

from decimal import Decimal

import pytest
from sqlmodel import select

from factories.capability import (
    capabilities_of,
    create_capability,
    delete_capability,
    major_units,
    minor_units,
    update_capability,
)
from factories.capacity.calendar import capacity_grid
from factories.errors import FactoryError
from factories.models import Capability
from tests.factories.conftest import NOW, TODAY, capability_details, week


def test_capability_is_saved_with_its_materials(db_session, make_factory):
    factory = make_factory(capabilities=[])
    create_capability(
        db_session, factory, capability_details("turning", materials=("steel", "brass", "steel"))
    )
    [view] = capabilities_of(db_session, factory.id)
    assert view.capability.process_code == "turning"
    assert view.materials == ["brass", "steel"]
    assert view.capability.hourly_rate_minor == 9550


def test_field_level_messages_for_every_problem_and_nothing_half_saved(db_session, make_factory):
    factory = make_factory(capabilities=[])
    bad = capability_details(
        "injection_molding",
        materials=("aluminium", "unobtainium"),
        tolerance_class="ISO 2768-x",
        max_length_mm=0,
        batch_min=10,
        batch_max=5,
        hourly_rate_minor=-1,
        currency="EURO",
    )
    with pytest.raises(FactoryError) as caught:
        create_capability(db_session, factory, bad)
    problems = dict(caught.value.problems)
    assert set(problems) == {
        "materials",
        "tolerance_class",
        "max_length_mm",
        "batch_max",
        "hourly_rate",
        "currency",
    }
    messages = [m for f, m in caught.value.problems if f == "materials"]
    assert any("Aluminium cannot be processed by Injection molding" in m for m in messages)
    assert any("unobtainium" in m for m in messages)
    assert (
        db_session.exec(select(Capability).where(Capability.factory_id == factory.id)).all() == []
    )


def test_unknown_process_and_duplicates_are_refused(db_session, make_factory):
    factory = make_factory()
    with pytest.raises(FactoryError) as caught:
        create_capability(db_session, factory, capability_details("knitting"))
    assert caught.value.field == "process_code"
    with pytest.raises(FactoryError) as caught:
        create_capability(db_session, factory, capability_details("milling_5axis"))
    assert "already has a capability" in caught.value.message


def test_update_changes_everything_but_the_process(db_session, make_factory):
    factory = make_factory()
    capability = db_session.exec(
        select(Capability).where(Capability.factory_id == factory.id)
    ).one()
    update_capability(
        db_session, capability, capability_details(materials=("steel",), hourly_rate_minor=12000)
    )
    [view] = capabilities_of(db_session, factory.id)
    assert view.materials == ["steel"] and view.capability.hourly_rate_minor == 12000
    with pytest.raises(FactoryError) as caught:
        update_capability(db_session, capability, capability_details("turning"))
    assert caught.value.field == "process_code"


def test_capability_with_booked_work_cannot_be_removed(db_session, make_factory):
    factory = make_factory(hours={"milling_5axis": [(2, "40", "12.5")]})
    capability = db_session.exec(
        select(Capability).where(Capability.factory_id == factory.id)
    ).one()
    with pytest.raises(FactoryError) as caught:
        delete_capability(db_session, capability, TODAY)
    assert "12.50 h are booked" in caught.value.message


def test_removing_a_capability_withdraws_its_capacity(db_session, make_factory):
    factory = make_factory()
    capability = db_session.exec(
        select(Capability).where(Capability.factory_id == factory.id)
    ).one()
    delete_capability(db_session, capability, TODAY)
    grid = capacity_grid(db_session, factory, TODAY, NOW)
    assert all(grid.cell("milling_5axis", w).maximum_hours == 0 for w in grid.weeks)
    assert grid.cell("milling_5axis", week(0)).recorded


def test_money_in_minor_units_follows_the_currency():
    assert minor_units("85.50", "EUR") == 8550
    assert minor_units("1200", "JPY") == 1200
    with pytest.raises(ValueError, match="more than 0 decimal places"):
        minor_units("12.5", "JPY")
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        minor_units("12.505", "EUR")
    with pytest.raises(ValueError, match="plausible"):  # not decimal.Overflow, a 500 on pages
        minor_units("9e999999999", "EUR")
    assert major_units(8550, "EUR") == Decimal("85.50")
