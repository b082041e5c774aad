"""Telemetry ingestion benchmark: many machines reporting through Mosquitto at once.

    python bench/telemetry.py [--factories 500] [--machines 4] [--seconds 60]
                              [--rate 1.0] [--changes 0.02] [--workers 1] [--mqtt-port 0]
                              [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a scratch PostgreSQL database with a demo cluster of --factories factories and
--machines registered machines on each, starts a Mosquitto of its own on a free loopback
port (or uses --mqtt-port) and --workers processes of `factoryweb telemetry run --json`
(sharing the stream), then lets one publisher process send each machine's state --rate
times a second (a share --changes of them a change of state, which sets the process's
weeks again). When publishing ends, the workers get the time to take what is still
queued, are stopped (SIGTERM) and print their JSON line. Prints a JSON report: the
workers' own lines (received, applied, stale, rejected, lag_ms_p95: receipt to commit),
messages applied per second while publishing, the backlog when publishing ended, the
transit time (the machine's `at` to the worker's receipt) p95, and the load average
before and after. Run it on the machine it is meant to describe (here: 2 cores, with
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
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import select

from factories.models import Capability, Factory, utcnow
from factories.telemetry.machines import MachineDetails, register_machine
from factories.telemetry.messages import topic_for
from marketplace.db import Database
from marketplace.migrate import scratch_database
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


ROOT = Path(__file__).resolve().parents[1]
DRAIN_S = 60.0


def start_workers(count: int, url: str, port: int, logs: Path) -> list[subprocess.Popen]:
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "MQTT_SHARE_GROUP": "bench",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "marketplace.cli", "telemetry", "run", "--json"]
    workers = []
    for n in range(count):
        with (logs / f"worker-{n}.log").open("wb") as errors:
            workers.append(
                subprocess.Popen(
                    [*command, "--no-opcua"],
                    cwd=ROOT,
                    env=environment,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                )
            )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if all("subscribed to" in (logs / f"worker-{n}.log").read_text() for n in range(count)):
            return workers
        time.sleep(0.2)
    raise TimeoutError("the workers did not subscribe in time")


def stop_workers(workers: list[subprocess.Popen]) -> list[dict]:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    lines = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        lines.append(json.loads(out.decode().strip().splitlines()[-1]))
    return lines


def counts(database: Database) -> tuple[int, int]:
    """Observations stored, and of them applied."""
    with database.engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT count(*), count(*) FILTER (WHERE applied) FROM machine_observation")
        ).one()
    return int(row[0]), int(row[1])


def transit_ms(database: Database, share: float) -> float | None:
    with database.engine.connect() as connection:
        value = connection.execute(
            sa.text(
                "SELECT percentile_cont(:share) WITHIN GROUP "
                "(ORDER BY extract(epoch FROM received_at - observed_at)) "
                "FROM machine_observation"
            ),
            {"share": share},
        ).scalar()
    return None if value is None else round(float(value) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=500)
    parser.add_argument("--machines", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1.0, help="messages per machine per second")
    parser.add_argument("--changes", type=float, default=0.02, help="share that change state")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the stream"
    )
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
    workers: list[subprocess.Popen] = []
    try:
        with (
            scratch_database(args.database_url, "factoryweb_bench_telemetry") as url,
            tempfile.TemporaryDirectory() as logs,
        ):
            database = Database.from_url(url)
            seeding = time.perf_counter()
            topics = seed(database, args.factories, args.machines)
            seed_s = time.perf_counter() - seeding
            workers = start_workers(args.workers, url, port, Path(logs))
            load_before = os.getloadavg()
            out: multiprocessing.Queue = multiprocessing.Queue()
            publisher = multiprocessing.Process(
                target=publish, args=(port, topics, args.seconds, args.rate, args.changes, out)
            )
            started = time.perf_counter()
            publisher.start()
            published = out.get()
            publisher.join()
            stored_at_end, applied_at_end = counts(database)
            load_after = os.getloadavg()
            # What was still queued: the time the workers need to take it.
            deadline = time.monotonic() + DRAIN_S
            previous = -1
            while time.monotonic() < deadline:
                stored, _ = counts(database)
                if stored >= published["published"] or stored == previous:
                    break
                previous = stored
                time.sleep(1.0)
            drained_s = time.perf_counter() - started
            lines = stop_workers(workers)
            workers = []
            stored, _ = counts(database)
            transit_p95 = transit_ms(database, 0.95)
            database.engine.dispose()
            rejected: dict[str, int] = {}
            for line in lines:
                for reason, count in line["rejected"].items():
                    rejected[reason] = rejected.get(reason, 0) + count
            report = {
                "benchmark": "telemetry ingestion",
                "factories": args.factories,
                "machines": len(topics),
                "workers": args.workers,
                "seconds": args.seconds,
                "offered_messages_per_s": round(len(topics) * args.rate, 1),
                "published": published["published"],
                "worker_json": lines,
                "received": sum(line["received"] for line in lines),
                "applied": sum(line["applied"] for line in lines),
                "stale": sum(line["stale"] for line in lines),
                "rejected": rejected,
                "lag_ms_p95": max(
                    (line["lag_ms_p95"] for line in lines if line["lag_ms_p95"] is not None),
                    default=None,
                ),
                "observations_stored": stored,
                "applied_per_s": round(applied_at_end / published["publish_s"], 1),
                "taken_per_s_until_drained": round(stored / drained_s, 1),
                "backlog_at_end_of_publishing": published["published"] - stored_at_end,
                "transit_ms_p95": transit_p95,
                "kept_up": published["published"] - stored_at_end < len(topics) * args.rate,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in load_after],
                "seed_s": round(seed_s, 1),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        if broker is not None:
            broker.kill()
            broker.wait()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
