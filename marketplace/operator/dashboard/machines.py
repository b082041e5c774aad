"""Machine utilization for the operator: per process, how many machines report, what
they are doing, and how busy they say they are (docs/operator.md, docs/telemetry.md)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from factories.models import Factory, FactoryStatus
from factories.telemetry.machines import is_silent
from factories.telemetry.models import DOWN_STATES, Machine, MachineState


@dataclass(frozen=True)
class MachineRow:
    process: str
    machines: int
    executing: int
    not_executing: int
    down: int
    silent: int
    nominal_hours: Decimal
    # The mean of the utilization the machines last reported (None: none reports one).
    utilization: float | None


def machine_rows(session: Session, now: datetime) -> list[MachineRow]:
    """One row per process over the machines of verified factories; a silent machine
    (nothing said for 15 minutes) counts as silent, not by its last state."""
    machines = session.exec(
        select(Machine)
        .join(Factory, col(Factory.id) == Machine.factory_id)
        .where(Factory.status == FactoryStatus.VERIFIED)
    ).all()
    by_process: dict[str, list[Machine]] = defaultdict(list)
    for machine in machines:
        by_process[machine.process_code].append(machine)
    rows = []
    for process, group in sorted(by_process.items()):
        speaking = [m for m in group if not is_silent(m, now)]
        reported = [m.utilization for m in group if m.utilization is not None]
        rows.append(
            MachineRow(
                process=process,
                machines=len(group),
                executing=sum(m.state == MachineState.EXECUTING for m in speaking),
                not_executing=sum(m.state == MachineState.NOT_EXECUTING for m in speaking),
                down=sum(m.state in DOWN_STATES for m in speaking),
                silent=len(group) - len(speaking),
                nominal_hours=sum((m.nominal_hours for m in group), Decimal(0)),
                utilization=sum(reported) / len(reported) if reported else None,
            )
        )
    return rows
