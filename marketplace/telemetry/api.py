"""API of a factory's machines: list, register (people of the factory, or its machine
clients with the `capacity:write` scope), remove (docs/telemetry.md)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from factories.models import id_of
from factories.telemetry.machines import MachineDetails, machines_of
from marketplace import db
from marketplace.accounts.access import login_required, scope_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.api.errors import api_field_names
from marketplace.supply.access import load_factory, require_capacity_editor
from marketplace.supply.clock import today_and_now
from marketplace.supply.schemas import FactoryPath
from marketplace.telemetry.access import load_machine
from marketplace.telemetry.blueprints import MACHINES, SECURITY, api
from marketplace.telemetry.presenters import MachineOut, machine_out
from marketplace.telemetry.service import add_machine, delete_machine

# The service's names of the fields, and this API's.
NAMES = {
    "machine_id": "machineId",
    "process_code": "process",
    "nominal_hours": "hoursPerWeek",
    "opcua_endpoint": "opcuaEndpoint",
    "opcua_state_node": "opcuaStateNode",
    "opcua_hours_node": "opcuaHoursNode",
}


class MachinePath(BaseModel):
    factory_id: int
    machine_id: int = Field(description="the machine's `id` in this API (not its machineId)")


class MachineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machineId: str = Field(description="the factory's own id for it, e.g. M-07")
    process: str = Field(description="process code (GET /api/v1/taxonomy)")
    hoursPerWeek: Decimal = Field(description="nominal hours per week, 0 to 168")
    opcuaEndpoint: str = Field(default="", description="opc.tcp://host:port")
    opcuaStateNode: str = Field(default="", description="node id of its MachineryItemState")
    opcuaHoursNode: str = Field(default="", description="node id of its hours this week")


class MachineList(BaseModel):
    machines: list[MachineOut]


@api.get(
    "/factories/<int:factory_id>/machines",
    tags=[MACHINES],
    responses={200: MachineList},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_machines(path: FactoryPath) -> ApiAnswer:
    """The factory's machines, their last state and when each last spoke."""
    factory = load_factory(path.factory_id)
    _, now = today_and_now()
    shown = [machine_out(factory, m, now) for m in machines_of(db.session(), id_of(factory))]
    return MachineList(machines=shown).model_dump(mode="json")


@api.post(
    "/factories/<int:factory_id>/machines",
    tags=[MACHINES],
    responses={201: MachineOut},
    security=SECURITY,
)
@scope_required("capacity:write")
def post_machine(path: FactoryPath, body: MachineIn) -> ApiAnswer:
    """Register a machine; the weeks of its process become the sum of its machines'."""
    factory = load_factory(path.factory_id, write=True)
    require_capacity_editor()
    today, now = today_and_now()
    details = MachineDetails(
        body.machineId,
        body.process,
        body.hoursPerWeek,
        body.opcuaEndpoint,
        body.opcuaStateNode,
        body.opcuaHoursNode,
    )
    with api_field_names(NAMES):
        machine = add_machine(db.session(), factory, details, today, now)
    return machine_out(factory, machine, now).model_dump(mode="json"), 201


@api.delete(
    "/factories/<int:factory_id>/machines/<int:machine_id>",
    tags=[MACHINES],
    responses={204: None},
    security=SECURITY,
)
@scope_required("capacity:write")
def delete_machine_api(path: MachinePath) -> ApiAnswer:
    factory = load_factory(path.factory_id, write=True)
    require_capacity_editor()
    machine = load_machine(factory, path.machine_id)
    today, now = today_and_now()
    delete_machine(db.session(), factory, machine, today, now)
    return "", 204
