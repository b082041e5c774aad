"""How a machine is shown, on pages and in the API alike."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from factories.models import Factory, id_of
from factories.telemetry.machines import is_silent
from factories.telemetry.messages import topic_for
from factories.telemetry.models import Machine


class MachineOut(BaseModel):
    id: int = Field(description="this API's id of the registration")
    machineId: str
    process: str = Field(description="process code (taxonomy)")
    nominalHoursPerWeek: float
    topic: str = Field(description="the MQTT topic it publishes on")
    opcuaEndpoint: str | None = None
    opcuaStateNode: str | None = None
    opcuaHoursNode: str | None = None
    state: str | None = Field(default=None, description="MachineryItemState last applied")
    observedAt: datetime | None = None
    lastSeenAt: datetime | None = None
    silent: bool = Field(description="nothing heard for 15 minutes (or never)")
    utilization: float | None = None
    availableHours: dict[str, float] = Field(default_factory=dict)


def machine_out(factory: Factory, machine: Machine, now: datetime) -> MachineOut:
    return MachineOut(
        id=id_of(machine),
        machineId=machine.machine_id,
        process=machine.process_code,
        nominalHoursPerWeek=float(machine.nominal_hours),
        topic=topic_for(factory.global_id, machine.machine_id),
        opcuaEndpoint=machine.opcua_endpoint or None,
        opcuaStateNode=machine.opcua_state_node or None,
        opcuaHoursNode=machine.opcua_hours_node or None,
        state=machine.state,
        observedAt=machine.observed_at,
        lastSeenAt=machine.last_seen_at,
        silent=is_silent(machine, now),
        utilization=machine.utilization,
        availableHours={k: float(v) for k, v in (machine.forecast or {}).items()},
    )
