"""`factoryweb telemetry machine add|list` and `factoryweb telemetry run`
(docs/telemetry.md)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from decimal import Decimal

import click
from flask.cli import AppGroup

from factories.errors import InputError
from factories.onboarding import find_factory
from factories.telemetry.machines import MachineDetails, machines_of
from factories.telemetry.messages import topic_for
from marketplace import db
from marketplace.supply.cli import BadInput
from marketplace.supply.clock import today_and_now
from marketplace.telemetry.celery_worker import PARENT_ENV
from marketplace.telemetry.presenters import machine_out
from marketplace.telemetry.service import add_machine, build_worker, mqtt_url, share_group

telemetry_group = AppGroup("telemetry", help="Machines and their live capacity (MQTT, OPC UA).")
machine_group = AppGroup("machine", help="A factory's machines.")
telemetry_group.add_command(machine_group)


@machine_group.command("add")
@click.argument("factory_ref", metavar="FACTORY")
@click.argument("machine_id")
@click.option("--process", "process_code", required=True, help="Process code (taxonomy).")
@click.option("--hours-per-week", "hours", required=True, help="Nominal hours per week, 0-168.")
@click.option("--opcua-endpoint", default="", help="opc.tcp://host:port")
@click.option("--opcua-state-node", default="", help="Node id of its MachineryItemState.")
@click.option("--opcua-hours-node", default="", help="Node id of its hours this week.")
def add_command(
    factory_ref: str,
    machine_id: str,
    process_code: str,
    hours: str,
    opcua_endpoint: str,
    opcua_state_node: str,
    opcua_hours_node: str,
) -> None:
    """Register MACHINE_ID of FACTORY (numeric id or URN)."""
    today, now = today_and_now()
    with db.database().session() as session:
        factory = find_factory(session, factory_ref)
        if factory is None:
            raise BadInput(f"FACTORY: no factory {factory_ref!r}")
        details = MachineDetails(
            machine_id, process_code, hours, opcua_endpoint, opcua_state_node, opcua_hours_node
        )
        try:
            machine = add_machine(session, factory, details, today, now)
        except InputError as error:
            raise BadInput.of(error) from error
        click.echo(
            f"registered machine {machine.machine_id} of factory {factory.id}; "
            f"it publishes on {topic_for(factory.global_id, machine.machine_id)}"
        )


@machine_group.command("list")
@click.argument("factory_ref", metavar="FACTORY")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def list_command(factory_ref: str, as_json: bool) -> None:
    """The machines of FACTORY (numeric id or URN)."""
    _, now = today_and_now()
    with db.database().session() as session:
        factory = find_factory(session, factory_ref)
        if factory is None:
            raise BadInput(f"FACTORY: no factory {factory_ref!r}")
        shown = [machine_out(factory, m, now) for m in machines_of(session, factory.id or 0)]
    if as_json:
        click.echo(json.dumps({"machines": [m.model_dump(mode="json") for m in shown]}))
        return
    for m in shown:
        seen = m.lastSeenAt.isoformat() if m.lastSeenAt else "never"
        hours = Decimal(str(m.nominalHoursPerWeek))
        click.echo(
            f"{m.machineId}\t{m.process}\t{hours} h/week\t{m.state or '-'}\t"
            f"{'silent' if m.silent else 'live'}\tlast seen {seen}"
        )


@telemetry_group.command("run")
@click.option("--seconds", type=click.FloatRange(min=0), help="Stop after N seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON at the end.")
@click.option("--no-opcua", is_flag=True, help="Do not read OPC UA endpoints.")
def run_command(seconds: float | None, as_json: bool, no_opcua: bool) -> None:
    """Take machine reports from MQTT_URL and from OPC UA endpoints until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url = mqtt_url()
    worker = build_worker(db.database(), url, opcua=not no_opcua, group=share_group())
    stop = threading.Event()
    previous = {n: signal.signal(n, lambda *_: stop.set()) for n in (signal.SIGTERM, signal.SIGINT)}
    parent = os.environ.get(PARENT_ENV)
    if parent:
        threading.Thread(target=_stop_when_orphaned, args=(stop, int(parent)), daemon=True).start()
    click.echo(f"taking machine reports from {url}", err=True)
    try:
        stats = worker.run(seconds, stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if as_json:
        click.echo(json.dumps(stats.summary()))


def _stop_when_orphaned(stop: threading.Event, parent: int) -> None:
    """Started by a Celery worker (`--telemetry`): stop once that worker is gone."""
    while not stop.wait(1.0):
        if os.getppid() != parent:
            logging.getLogger("factoryweb.telemetry").warning(
                "the Celery worker that started telemetry ingestion is gone; stopping"
            )
            stop.set()
