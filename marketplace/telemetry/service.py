"""Registering and removing machines, with what their hours put at risk told; the
worker, wired to the database and to the orders it may put at risk."""

from __future__ import annotations

import os
from datetime import date, datetime

from flask import current_app
from sqlmodel import Session, col, select

from factories.capacity.floor import Shortfall
from factories.models import Factory
from factories.telemetry.ingest import Ingestor
from factories.telemetry.leases import EndpointLeases
from factories.telemetry.machines import MachineDetails, register_machine, remove_machine
from factories.telemetry.models import Machine
from factories.telemetry.mqtt import DEFAULT_MQTT_URL, DEFAULT_SHARE_GROUP
from factories.telemetry.opcua import OpcUaMachine
from factories.telemetry.worker import Worker
from marketplace.db import Database
from marketplace.orders.production.at_risk import mark_at_risk


def tell_shortfalls(
    session: Session, factory: Factory, shortfalls: list[Shortfall], now: datetime
) -> None:
    """The ingestion's shortfall handler: the work in those weeks is at risk."""
    mark_at_risk(session, factory, shortfalls, now)


def add_machine(
    session: Session, factory: Factory, details: MachineDetails, today: date, now: datetime
) -> Machine:
    machine, shortfalls = register_machine(session, factory, details, today, now)
    tell_shortfalls(session, factory, shortfalls, now)
    return machine


def delete_machine(
    session: Session, factory: Factory, machine: Machine, today: date, now: datetime
) -> None:
    tell_shortfalls(session, factory, remove_machine(session, factory, machine, today, now), now)


def opcua_machines(database: Database, leases: EndpointLeases | None = None) -> list[OpcUaMachine]:
    """The machines read over OPC UA, as the worker needs them: with `leases`, only those
    whose endpoint this worker holds (each endpoint is read by one worker)."""
    with database.session() as session:
        rows = session.exec(
            select(Machine).where(col(Machine.opcua_endpoint) != "").order_by(col(Machine.id))
        ).all()
        machines = [
            OpcUaMachine(m.id or 0, m.opcua_endpoint, m.opcua_state_node, m.opcua_hours_node)
            for m in rows
        ]
    if leases is None:
        return machines
    held = leases.claim({m.endpoint for m in machines})
    return [m for m in machines if m.endpoint in held]


def mqtt_url() -> str:
    return current_app.config.get("MQTT_URL") or os.environ.get("MQTT_URL") or DEFAULT_MQTT_URL


def share_group() -> str:
    """The shared subscription's group of this deployment's workers ("" for none)."""
    return _group(current_app.config.get("MQTT_SHARE_GROUP"))


def _group(configured: str | None) -> str:
    if configured is not None:
        return configured
    return os.environ.get("MQTT_SHARE_GROUP", DEFAULT_SHARE_GROUP)


def build_worker(
    database: Database,
    url: str | None,
    *,
    opcua: bool = True,
    client_id: str | None = None,
    group: str | None = None,
    reload_s: float | None = None,
) -> Worker:
    """A worker on `database`: MQTT from `url` in the shared subscription `group` (default
    MQTT_SHARE_GROUP, else `factoryweb`), and the OPC UA endpoints it holds."""
    ingestor = Ingestor(database.session, on_shortfall=tell_shortfalls)
    leases = EndpointLeases(database.engine) if opcua else None
    return Worker(
        ingestor,
        url,
        (lambda: opcua_machines(database, leases)) if opcua else None,
        client_id=client_id,
        share_group=_group(group),
        reload_s=reload_s,
        on_stop=leases.release if leases is not None else None,
    )
