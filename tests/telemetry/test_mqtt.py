"""MQTT ingestion against real Mosquitto brokers: a broker of the test's own (stopped and
started again), and the shared one on 127.0.0.1:1883."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import select

from factories.capacity.weeks import week_label
from factories.models import id_of, utcnow
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.messages import topic_for
from factories.telemetry.models import Machine, Observation
from marketplace.db import Database
from marketplace.telemetry.service import build_worker
from tests.conftest import savepoint_sessions, service_reachable
from tests.factories.conftest import capability_details
from tests.telemetry.conftest import bucket, wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def live_shop(make_factory, db_session):  # type: ignore[no-untyped-def]
    """A milling shop on today's calendar with two machines of 40 h."""

    now = utcnow()
    factory = make_factory(
        capabilities=[capability_details("milling_5axis")], today=now.date(), now=now
    )
    for name in ("M-01", "M-02"):
        register_machine(
            db_session, factory, MachineDetails(name, "milling_5axis", "40"), now.date(), now
        )
    db_session.flush()
    return factory


def publisher(url_port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    return client


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def send(client: mqtt.Client, topic: str, payload: object) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    client.publish(topic, body, qos=1).wait_for_publish(5)


def at(seconds: float = 0) -> str:
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


class Running:
    """The worker on a thread of its own, until stopped."""

    def __init__(self, worker) -> None:  # type: ignore[no-untyped-def]
        self.worker = worker
        self.stop = threading.Event()
        self.thread = threading.Thread(target=worker.run, kwargs={"stop": self.stop})

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.thread.start()
        wait_until(lambda: self.worker.mqtt.connected)
        return self.worker

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(20)


def worker_for(engine, connection, url: str):  # type: ignore[no-untyped-def]
    return build_worker(Database(engine, savepoint_sessions(connection)), url, opcua=False)


def test_bad_messages_are_counted_by_reason_and_never_stop_ingestion(
    engine, connection, db_session, live_shop, own_mosquitto
):
    topic = topic_for(live_shop.global_id, "M-01")
    stranger = topic_for(f"urn:factoryweb:factory:{uuid.uuid4()}", "M-01")
    worker = worker_for(engine, connection, own_mosquitto.url)
    client = publisher(own_mosquitto.port)
    this_week = week_label(utcnow().date() - timedelta(days=utcnow().weekday()))
    with Running(worker):
        send(client, topic, {"at": at(-10), "state": "Executing"})
        send(client, topic, b"{not json")
        send(client, topic, {"at": at(), "state": "Broken"})
        send(client, topic, {"at": at(), "state": "Executing", "available_hours": {"2026-W99": 3}})
        send(client, topic, {"at": at(), "state": "Executing", "available_hours": {this_week: 200}})
        send(client, topic, {"at": at(600), "state": "OutOfService"})
        send(client, topic_for(live_shop.global_id, "M-99"), {"at": at(), "state": "Executing"})
        send(client, stranger, {"at": at(), "state": "Executing"})
        send(client, "factoryweb/v1/factories/not-a-uuid/machines/M-01/state", b"{}")
        send(client, topic, {"at": at(-60), "state": "OutOfService"})  # older: stale
        send(client, topic, b"x" * 5000)
        # After all of that, a good message still goes through.
        send(client, topic, {"at": at(), "state": "OutOfService", "utilization": 0.25})
        wait_until(lambda: worker.stats.received == 12)
        wait_until(lambda: worker.stats.applied + worker.stats.stale == 3)
    summary = worker.stats.summary()
    assert summary["received"] == 12
    assert summary["applied"] == 2 and summary["stale"] == 1
    assert summary["rejected"] == {
        "bad_hours": 1,
        "bad_state": 1,
        "bad_week": 1,
        "future": 1,
        "not_json": 1,
        "too_large": 1,
        "unknown_factory": 2,
        "unknown_machine": 1,
    }
    assert summary["lag_ms_p95"] is not None and summary["lag_ms_p95"] >= 0
    machine = db_session.exec(select(Machine).where(Machine.machine_id == "M-01")).one()
    db_session.refresh(machine)
    assert machine.state == "OutOfService" and machine.utilization == 0.25
    kept = db_session.exec(select(Observation).where(Observation.machine_id == machine.id)).all()
    assert sorted((o.state, o.applied) for o in kept) == [
        ("Executing", True),
        ("OutOfService", False),
        ("OutOfService", True),
    ]
    # M-01 is down: this week is 40 h of M-02 and the part of M-01's week already past.
    cell = bucket(
        db_session,
        live_shop,
        "milling_5axis",
        machine.down_since.date() - timedelta(days=machine.down_since.weekday()),
    )
    assert Decimal(40) < cell.maximum_hours < Decimal(80)


def test_the_worker_reconnects_after_the_broker_restarts(
    engine, connection, db_session, live_shop, own_mosquitto
):
    topic = topic_for(live_shop.global_id, "M-02")
    worker = worker_for(engine, connection, own_mosquitto.url)
    with Running(worker):
        client = publisher(own_mosquitto.port)
        send(client, topic, {"at": at(-5), "state": "Executing"})
        wait_until(lambda: worker.stats.applied == 1)
        close(client)
        own_mosquitto.stop()
        wait_until(lambda: not worker.mqtt.connected)
        time.sleep(0.5)
        own_mosquitto.start()
        wait_until(lambda: worker.mqtt.connected and worker.stats.connections == 2, timeout=40)
        client = publisher(own_mosquitto.port)
        send(client, topic, {"at": at(), "state": "NotAvailable"})
        wait_until(lambda: worker.stats.applied == 2)
        close(client)
    machine = db_session.exec(select(Machine).where(Machine.machine_id == "M-02")).one()
    db_session.refresh(machine)
    assert machine.state == "NotAvailable"


@pytest.mark.skipif(not service_reachable("127.0.0.1", 1883), reason="no Mosquitto on 1883")
def test_the_cli_worker_on_the_shared_broker_prints_its_counts(app, db_session, live_shop):
    topic = topic_for(live_shop.global_id, "M-01")
    app.config["MQTT_URL"] = "mqtt://127.0.0.1:1883"

    def publish_soon() -> None:
        time.sleep(1.5)
        client = publisher(1883)
        send(client, topic, {"at": at(), "state": "NotExecuting", "utilization": 0.5})
        close(client)

    thread = threading.Thread(target=publish_soon)
    thread.start()
    result = app.test_cli_runner().invoke(
        args=["telemetry", "run", "--seconds", "4", "--json", "--no-opcua"]
    )
    thread.join()
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert set(summary) == {"received", "applied", "stale", "rejected", "lag_ms_p95"}
    assert summary["applied"] >= 1
    machine = db_session.exec(select(Machine).where(Machine.machine_id == "M-01")).one()
    db_session.refresh(machine)
    assert machine.state == "NotExecuting" and machine.last_seen_at is not None
    assert id_of(machine)
