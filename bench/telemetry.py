"""Telemetry ingestion benchmark: many machines reporting through Mosquitto at once.

    python bench/telemetry.py [--factories 500] [--machines 4] [--seconds 60]
                              [--rate 1.0] [--changes 0.02] [--mqtt-port 0]
                              [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a scratch PostgreSQL database with a demo cluster of --factories factories and
--machines registered machines on each, starts a Mosquitto of its own on a free loopback
port (or uses --mqtt-port), and lets one publisher process send each machine's state
--rate times a second (a share --changes of them a change of state, which sets the
process's weeks again) while the ingestion worker (docs/telemetry.md) takes them, as
`factoryweb telemetry run` would. Prints a JSON report: messages published, received,
applied per second, the worker's lag (receipt to commit) p50/p95/max, and the backlog
left at the end. Run it on the machine it is meant to describe (here: 2 cores, with
PostgreSQL and Mosquitto on the same machine).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import select

from factories.models import Capability, Factory, utcnow
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.messages import topic_for
from marketplace.db import Database
from marketplace.migrate import scratch_database
from marketplace.telemetry.service import build_worker
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace

STATES = ("Executing", "NotExecuting", "OutOfService", "NotAvailable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(database: Database, factories: int, machines: int) -> list[str]:
    """The demo cluster, and `machines` machines on each factory; their topics."""
    with database.session() as session:
        seed_marketplace(
            session, DemoSpec(factories=factories, orders=0, weeks=12, logins=False, buyers=2)
        )
    topics = []
    now = utcnow()
    with database.session() as session:
        rows = session.exec(select(Factory).order_by(Factory.id)).all()
        for factory in rows:
            processes = session.exec(
                select(Capability.process_code)
                .where(Capability.factory_id == factory.id)
                .order_by(Capability.process_code)
            ).all()
            for n in range(machines):
                name = f"M-{n + 1:02d}"
                details = MachineDetails(name, processes[n % len(processes)], "40")
                register_machine(session, factory, details, now.date(), now)
                topics.append(topic_for(factory.global_id, name))
    return topics


def publish(port: int, topics: list[str], seconds: float, rate: float, changes: float, out) -> None:  # type: ignore[no-untyped-def]
    """Each topic `rate` times a second, spread evenly over the second; counts to `out`."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    rng = random.Random(11)
    state = dict.fromkeys(topics, "Executing")
    interval = 1.0 / (len(topics) * rate)
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for topic in topics:
            if rng.random() < changes:
                state[topic] = rng.choice(STATES)
            body = {"at": datetime.now(UTC).isoformat(), "state": state[topic]}
            client.publish(topic, json.dumps(body), qos=0)
            sent += 1
            due = started + sent * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if time.monotonic() - started >= seconds:
                break
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    out.put({"published": sent, "publish_s": round(time.monotonic() - started, 2)})


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, int(share * len(ordered) + 0.5) - 1)], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=500)
    parser.add_argument("--machines", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1.0, help="messages per machine per second")
    parser.add_argument("--changes", type=float, default=0.02, help="share that change state")
    parser.add_argument("--mqtt-port", type=int, default=0, help="0: a Mosquitto of its own")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

    broker = None
    port = args.mqtt_port
    if not port:
        port = free_port()
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        broker = subprocess.Popen(
            [binary, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)
    try:
        with scratch_database(args.database_url, "factoryweb_bench_telemetry") as url:
            database = Database.from_url(url)
            seeding = time.perf_counter()
            topics = seed(database, args.factories, args.machines)
            seed_s = time.perf_counter() - seeding
            worker = build_worker(database, f"mqtt://127.0.0.1:{port}", opcua=False)
            stop = threading.Event()
            thread = threading.Thread(target=worker.run, kwargs={"stop": stop})
            thread.start()
            deadline = time.monotonic() + 10
            while not (worker.mqtt and worker.mqtt.connected) and time.monotonic() < deadline:
                time.sleep(0.05)
            out: multiprocessing.Queue = multiprocessing.Queue()
            publisher = multiprocessing.Process(
                target=publish, args=(port, topics, args.seconds, args.rate, args.changes, out)
            )
            started = time.perf_counter()
            publisher.start()
            published = out.get()
            publisher.join()
            # What arrived by the end of publishing, and how long the rest takes.
            at_end = {"received": worker.stats.received, "applied": worker.stats.applied}
            backlog = worker.inbox.qsize()
            drain_deadline = time.monotonic() + 60
            while worker.inbox.qsize() and time.monotonic() < drain_deadline:
                time.sleep(0.1)
            drained_s = time.perf_counter() - started
            stop.set()
            thread.join(60)
            with database.engine.connect() as connection:
                observations = connection.execute(
                    sa.text("SELECT count(*) FROM machine_observation")
                ).scalar()
            lags = list(worker.stats.lags_ms)
            taken = worker.stats.applied + worker.stats.stale
            report = {
                "benchmark": "telemetry ingestion",
                "factories": args.factories,
                "machines": len(topics),
                "seconds": args.seconds,
                "offered_messages_per_s": round(len(topics) * args.rate, 1),
                "published": published["published"],
                "received": worker.stats.received,
                "applied": worker.stats.applied,
                "stale": worker.stats.stale,
                "rejected": dict(worker.stats.rejected),
                "observations_stored": observations,
                "applied_per_s": round(at_end["applied"] / published["publish_s"], 1),
                "taken_per_s_until_drained": round(taken / drained_s, 1),
                "backlog_at_end_of_publishing": backlog,
                "lag_ms_p50": percentile(lags, 0.50),
                "lag_ms_p95": percentile(lags, 0.95),
                "lag_ms_max": round(max(lags), 1) if lags else None,
                "kept_up": backlog < len(topics) * args.rate
                and published["published"] - worker.stats.received < len(topics) * args.rate,
                "seed_s": round(seed_s, 1),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
    finally:
        if broker is not None:
            broker.kill()
            broker.wait()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
