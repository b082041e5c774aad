"""Ingestion beside a real Celery worker on Redis (`celery --app marketplace.tasks worker
--telemetry`): its two processes start with the worker, take machines' reports from
Mosquitto, are started again when one dies, and end with the worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import select

from factories.models import utcnow
from factories.telemetry.models import Observation
from marketplace.orders.workers.queue import worker_command
from tests.conftest import service_reachable
from tests.telemetry.conftest import wait_until

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        listed = (task / "children").read_text().split()
        found.update(int(p) for p in listed)
    return found


def ingestion_of(worker: subprocess.Popen) -> set[int]:
    """The worker's children running `marketplace.cli telemetry run`."""
    found = set()
    for pid in children(worker.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"marketplace.cli" in command and b"telemetry" in command:
            found.add(pid)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def publish(port: int, topic: str, state: str) -> str:
    at = (utcnow() - timedelta(seconds=1)).isoformat()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, json.dumps({"at": at, "state": state}), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    return at


def recorded(fleet, pk: int) -> list[str]:  # type: ignore[no-untyped-def]
    with fleet.database.session() as session:
        return list(
            session.exec(
                select(Observation.state)
                .where(Observation.machine_id == pk)
                .order_by(Observation.observed_at)
            ).all()
        )


def test_a_celery_worker_runs_ingestion_beside_itself(fleet, own_mosquitto, tmp_path):
    if not service_reachable("127.0.0.1", 6379):
        pytest.skip("Redis unreachable at 127.0.0.1:6379")
    queue = f"factoryweb-test-{uuid.uuid4().hex[:8]}"
    group = f"test-{uuid.uuid4().hex[:8]}"
    environment = {
        **os.environ,
        "DATABASE_URL": fleet.url,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CELERY_QUEUE": queue,
        "MQTT_URL": own_mosquitto.url,
        "MQTT_SHARE_GROUP": group,
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "celery.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [*worker_command(queue, concurrency=1), "--telemetry"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    pk, topic = sorted(fleet.topics.items())[-1]
    try:
        subscribed = f"$share/{group}/"
        wait_until(lambda: log.read_text().count(subscribed) == 2, timeout=90)
        first = ingestion_of(worker)
        assert len(first) == 2, log.read_text()
        publish(own_mosquitto.port, topic, "OutOfService")
        wait_until(lambda: recorded(fleet, pk)[-1:] == ["OutOfService"])

        # One killed outright is started again, subscribes again, and they go on.
        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: log.read_text().count(subscribed) == 3, timeout=60)
        second = ingestion_of(worker)
        assert len(second) == 2 and killed not in second
        for state in ("Executing", "NotExecuting"):
            publish(own_mosquitto.port, topic, state)
            wait_until(lambda s=state: recorded(fleet, pk)[-1:] == [s])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    # Warm shutdown stopped the ingestion with the worker.
    assert worker.returncode == 0, log.read_text()
    assert not any(alive(pid) for pid in second)
    assert "Traceback" not in log.read_text()
