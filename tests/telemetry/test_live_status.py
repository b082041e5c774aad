"""The factory profile's liveStatus and credit breakdown (docs/factory-profile.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from factories.credit.score import COMPONENTS, PRIOR_MEAN
from factories.profile.reader import import_profile
from factories.profile.schema import FactoryProfile
from factories.profile.writer import export_profile, live_status
from factories.telemetry.models import MachineState
from tests.telemetry.conftest import NOW, TODAY, add_machine


def test_a_factory_without_machines_has_no_live_status(db_session, shop):
    profile = export_profile(db_session, shop)
    assert profile.liveStatus is None


def test_live_status_says_what_the_machines_last_said(db_session, shop):
    busy = add_machine(db_session, shop, "M-01", "40")
    down = add_machine(db_session, shop, "M-02", "40")
    add_machine(db_session, shop, "L-01", "30", process="turning")  # never spoke
    busy.state, busy.utilization = MachineState.EXECUTING, 0.8
    busy.observed_at = busy.last_seen_at = NOW - timedelta(minutes=2)
    down.state, down.utilization = MachineState.OUT_OF_SERVICE, 0.2
    down.observed_at = down.last_seen_at = NOW - timedelta(minutes=40)

    status = live_status([busy, down], NOW)
    assert status is not None
    assert status.machineryItemState == "Executing"
    assert status.utilization == 0.5
    assert status.observedAt == NOW - timedelta(minutes=2)
    assert [(m.machineId, m.silent) for m in status.machines] == [("M-01", False), ("M-02", True)]

    profile = export_profile(db_session, shop)
    assert profile.liveStatus is not None
    machines = {m.machineId: m for m in profile.liveStatus.machines}
    assert machines["L-01"].machineryItemState is None and machines["L-01"].silent
    assert machines["M-02"].machineryItemState == "OutOfService"
    assert machines["M-01"].capabilityId == "milling_5axis"


def test_only_stopped_machines_make_a_stopped_factory(db_session, shop):
    first = add_machine(db_session, shop, "M-01", "40")
    second = add_machine(db_session, shop, "M-02", "40")
    first.state, second.state = MachineState.NOT_AVAILABLE, MachineState.OUT_OF_SERVICE
    status = live_status([first, second], NOW)
    assert status is not None and status.machineryItemState == "OutOfService"
    assert status.utilization is None  # neither reported one


def test_credit_breakdown_is_exported_and_import_ignores_it(db_session, shop):
    profile = export_profile(db_session, shop)
    assert profile.credit is not None
    assert [c.name for c in profile.credit.components] == [c.name for c in COMPONENTS]
    assert sum(c.weight for c in profile.credit.components) == pytest.approx(1)
    # Without events, every part stands at the prior.
    assert all(c.events == 0 and c.value == PRIOR_MEAN for c in profile.credit.components)

    # What the marketplace writes cannot be imported as the factory's own.
    document = profile.model_dump(mode="json")
    document["credit"]["components"][0]["value"] = 1.0
    document["liveStatus"] = {
        "machineryItemState": "Executing",
        "utilization": 1.0,
        "machines": [{"machineId": "X", "capabilityId": "milling_5axis", "silent": False}],
    }
    import_profile(
        db_session,
        FactoryProfile.model_validate(document),
        shop.organization_id,
        TODAY,
        NOW,
        into=shop,
    )
    again = export_profile(db_session, shop)
    assert again.liveStatus is None
    assert again.credit == profile.credit
