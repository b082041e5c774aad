"""The operator's dashboard shows machine utilization per process, from what the machines
last reported; a machine silent for 15 minutes counts as silent."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from sqlmodel import select

from factories.models import Factory, FactoryStatus, utcnow
from factories.telemetry.models import Machine, MachineState
from marketplace.accounts.models import OrganizationKind, Role


def test_machines_per_process_on_the_dashboard_and_in_csv(browser, make_member, cluster):
    factory = cluster.exec(
        select(Factory).where(Factory.status == FactoryStatus.VERIFIED).order_by(Factory.id)
    ).first()
    now = utcnow()
    reports = [
        ("M-1", MachineState.EXECUTING, now, 0.9),
        ("M-2", MachineState.NOT_EXECUTING, now, 0.3),
        ("M-3", MachineState.OUT_OF_SERVICE, now, None),
        ("M-4", MachineState.EXECUTING, now - timedelta(minutes=16), 0.6),  # silent
    ]
    for machine_id, state, seen, utilization in reports:
        cluster.add(
            Machine(
                factory_id=factory.id,
                machine_id=machine_id,
                process_code="milling_3axis",
                nominal_hours=Decimal(40),
                state=state,
                observed_at=seen,
                last_seen_at=seen,
                utilization=utilization,
            )
        )
    cluster.commit()
    browser.login(make_member(OrganizationKind.OPERATOR, Role.OPERATOR))
    page = browser.get("/operator").get_data(as_text=True)
    table = page.split('id="machines-table"')[1].split("</table>")[0]
    assert "CNC milling, 3-axis" in table and "milling_3axis" not in table
    response = browser.get("/operator/machines.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    [milling] = [r for r in rows if r["process"] == "milling_3axis"]
    assert (milling["machines"], milling["executing"], milling["not_executing"]) == ("4", "1", "1")
    assert (milling["down"], milling["silent"], milling["nominal_hours"]) == ("1", "1", "160.00")
    assert float(milling["utilization"]) == round((0.9 + 0.3 + 0.6) / 3, 4)
