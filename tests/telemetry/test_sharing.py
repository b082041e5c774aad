"""Several workers at once: two `factoryweb telemetry run` processes share one Mosquitto's
stream (a shared subscription) and take each message once, a message delivered twice is
recorded once, and an OPC UA endpoint is read by one worker, the other taking over when
it stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import select

from factories.models import Factory, id_of, utcnow
from factories.telemetry.machines import MachineDetails, register_machine, remove_machine
from factories.telemetry.models import Machine, Observation
from marketplace.db import Database
from marketplace.telemetry.service import build_worker
from tests.telemetry.conftest import Fleet, Mosquitto, wait_until

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def start_worker(fleet: Fleet, broker: Mosquitto, group: str, log: Path) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": fleet.url,
        "MQTT_URL": broker.url,
        "MQTT_SHARE_GROUP": group,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "marketplace.cli", "telemetry", "run", "--json"]
    with log.open("wb") as errors:
        return subprocess.Popen(
            [*command, "--no-opcua"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=errors,
        )


def summary_of(process: subprocess.Popen) -> dict:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return json.loads(out.decode().strip().splitlines()[-1])


def observations(
    fleet: Fleet, machine_ids: list[int], after: int = 0
) -> list[tuple[int, object, str, bool]]:
    """What the machines said, recorded after observation `after` (other tests' reports
    on the same machines come before)."""
    with fleet.database.session() as session:
        return list(
            session.exec(
                select(
                    Observation.machine_id,
                    Observation.observed_at,
                    Observation.state,
                    Observation.applied,
                ).where(
                    sa.column("machine_id").in_(machine_ids),
                    sa.column("id") > after,
                )
            ).all()
        )


def newest_observation(fleet: Fleet) -> int:
    with fleet.database.session() as session:
        return session.exec(select(sa.func.max(Observation.id))).one() or 0


def test_two_workers_share_the_stream_and_take_each_message_once(fleet, own_mosquitto, tmp_path):
    group = f"test-{uuid.uuid4().hex[:8]}"
    before = newest_observation(fleet)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [start_worker(fleet, own_mosquitto, group, log) for log in logs]
    try:
        wait_until(lambda: all(f"$share/{group}/" in log.read_text() for log in logs), timeout=60)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        client.connect("127.0.0.1", own_mosquitto.port)
        client.loop_start()
        # Newer than what other tests told these machines (a few seconds ahead at most).
        start = utcnow()
        states = ["Executing", "NotExecuting", "OutOfService", "NotAvailable"]
        sent: dict[tuple[int, str], bytes] = {}
        last: dict[int, str] = {}
        for n in range(40):
            for pk, topic in fleet.topics.items():
                at = (start + timedelta(milliseconds=n * 100 + pk)).isoformat()
                state = states[(n + pk) % 4]
                body = json.dumps({"at": at, "state": state}).encode()
                sent[(pk, at)] = body
                last[pk] = state
                client.publish(topic, body, qos=1)
        # Delivered again, as a broker does after a lost acknowledgement.
        again = list(sent.items())[::12]
        for (pk, _), body in again:
            client.publish(fleet.topics[pk], body, qos=1).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        wait_until(lambda: len(observations(fleet, list(fleet.topics), before)) >= len(sent), 60)
        # The copies sent again were published last; a stopping worker still takes what
        # arrived, so a moment for them to arrive is all they need.
        time.sleep(1.5)
    finally:
        summaries = [summary_of(w) for w in workers]
    received = [s["received"] for s in summaries]
    assert sum(received) == len(sent) + len(again)
    assert all(r > 0 for r in received), f"one worker took everything: {received}"
    taken = sum(s["applied"] + s["stale"] for s in summaries)
    assert taken == len(sent)
    assert sum(s["rejected"].get("duplicate", 0) for s in summaries) == len(again)
    kept = observations(fleet, list(fleet.topics), before)
    assert len(kept) == len(sent)
    assert len({(pk, at) for pk, at, _, _ in kept}) == len(sent)
    with fleet.database.session() as session:
        for pk, state in last.items():
            assert session.get(Machine, pk).state == state


def test_an_opc_ua_endpoint_is_read_by_one_worker_at_a_time(fleet, opc_server):
    now = utcnow()
    machine_id = f"OPC-{uuid.uuid4().hex[:6]}"
    with fleet.database.session() as session:
        factory = session.exec(select(Factory).order_by(Factory.id)).first()
        details = MachineDetails(
            machine_id,
            session.get(Machine, next(iter(fleet.topics))).process_code,
            "40",
            opc_server.endpoint,
            opc_server.state_id,
            "",
        )
        machine, _ = register_machine(session, factory, details, now.date(), now)
        pk = id_of(machine)
    databases = [Database.from_url(fleet.url) for _ in range(2)]
    workers = [build_worker(d, None, opcua=True, reload_s=0.5) for d in databases]
    stops = [threading.Event() for _ in workers]
    threads = [
        threading.Thread(target=w.run, kwargs={"stop": s})
        for w, s in zip(workers, stops, strict=True)
    ]
    for thread in threads:
        thread.start()

    def states() -> list[str]:
        return [state for _, _, state, _ in sorted(observations(fleet, [pk]), key=lambda o: o[1])]

    try:
        wait_until(lambda: states() == ["Executing"])
        opc_server.write("state", "OutOfService")
        wait_until(lambda: states() == ["Executing", "OutOfService"])
        opc_server.write("state", "NotExecuting")
        wait_until(lambda: states()[-1:] == ["NotExecuting"])
        connected = [w.stats.connections for w in workers]
        assert sorted(c > 0 for c in connected) == [False, True], connected
        holder = connected.index(max(connected))
        other = 1 - holder
        # The holder stops: the other worker takes the endpoint over, reads the current
        # value again (recorded once already) and follows the next change.
        stops[holder].set()
        threads[holder].join(30)
        wait_until(lambda: workers[other].stats.connections > 0)
        wait_until(lambda: workers[other].stats.rejected["duplicate"] == 1)
        opc_server.write("state", "Executing")
        wait_until(lambda: states()[-1:] == ["Executing"])
        assert states() == ["Executing", "OutOfService", "NotExecuting", "Executing"]
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(30)
        for database in databases:
            database.engine.dispose()
        with fleet.database.session() as session:
            factory = session.get(Factory, machine.factory_id)
            remove_machine(session, factory, session.get(Machine, pk), now.date(), now)
    assert workers[holder].stats.applied == 3 and workers[other].stats.applied == 1
