"""Reliability under faults: `factoryweb simulate` through Celery while worker processes
are killed every 15 s and the broker restarts once; against the same simulation without
faults.

    python bench/faults.py [--orders 600] [--factories 60] [--weeks 4] [--workers 2]
                           [--kill-every 15] [--broker-down-at 25] [--broker-down-for 5]
                           [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Each simulation gets a scratch database, a Redis of its own (no persistence, so a
restart loses every queued message, as the worst case), `--workers` Celery worker
processes and Celery beat, with the production recovery settings (a run silent for 30 s
is queued again; a queued run no worker took 45 s after its hand-off is handed over
again; both looked for every 10 s). With faults, every `--kill-every` seconds one worker's
pool process is killed with SIGKILL (the worker starts a new one), and the broker is
stopped once and started again. Prints a JSON report: both summaries, each kill with the
run it interrupted and the seconds until that run was back (queued again and taken by a
worker), and the checks (overbooked buckets, booking mismatches, orders left in
`matching`: all must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from marketplace.migrate import scratch_database
from marketplace.orders.workers.queue import worker_command

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Redis:
    def __init__(self, directory: str) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class Faults(threading.Thread):
    """Kills a pool process every `every` seconds (taking turns between the workers), and
    stops the broker once for a while; records each kill's interrupted run and when it
    came back."""

    def __init__(self, url: str, workers: list[subprocess.Popen], redis: Redis, args: Any):
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        self.workers = workers
        self.redis = redis
        self.args = args
        self.stopped = threading.Event()
        self.kills: list[dict[str, Any]] = []
        self.broker: dict[str, Any] = {}

    def running(self) -> tuple[Any, dict[int, tuple[int, Any]]]:
        """The database's clock, and the running runs: id -> (attempts, heartbeat)."""
        with self.engine.connect() as connection:
            now = connection.execute(sa.text("SELECT now()")).scalar()
            rows = connection.execute(
                sa.text("SELECT id, attempts, heartbeat_at FROM match_run WHERE state = 'running'")
            ).all()
        return now, {run_id: (attempts, beat) for run_id, attempts, beat in rows}

    def run(self) -> None:
        started = time.monotonic()
        next_kill = started + self.args.kill_every
        broker_at = started + self.args.broker_down_at
        turn = 0
        while not self.stopped.wait(0.5):
            now = time.monotonic()
            if not self.broker and now >= broker_at:
                self.redis.stop()
                self.broker = {"down_at_s": round(now - started, 1)}
                time.sleep(self.args.broker_down_for)
                self.redis.start()
                self.broker["up_at_s"] = round(time.monotonic() - started, 1)
            if now >= next_kill:
                next_kill = now + self.args.kill_every
                worker = self.workers[turn % len(self.workers)]
                turn += 1
                self.kill(worker, started)
            self.follow()

    def kill(self, worker: subprocess.Popen, started: float) -> None:
        pools = children_of(worker.pid)
        if not pools:
            return
        clock, running = self.running()
        killed_at = time.monotonic()
        os.kill(pools[0], signal.SIGKILL)
        self.kills.append(
            {
                "at_s": round(killed_at - started, 1),
                "killed_at": killed_at,
                "clock": clock,
                # Alive at the kill: a heartbeat within the last few seconds.
                "alive": {
                    run_id: attempts
                    for run_id, (attempts, beat) in running.items()
                    if beat is not None and (clock - beat).total_seconds() < 4
                },
            }
        )

    def follow(self) -> None:
        """A kill's interrupted run is the one alive at the kill whose heartbeat then
        stopped; it is back when a worker started it again."""
        now = time.monotonic()
        _, running = self.running()
        with self.engine.connect() as connection:
            attempts_now = dict(
                connection.execute(
                    sa.text("SELECT id, attempts FROM match_run WHERE attempts > 1")
                ).all()
            )
        for kill in self.kills:
            if "run" not in kill and now - kill["killed_at"] > 6:
                stopped = [
                    run_id
                    for run_id in kill["alive"]
                    if run_id in running
                    and (running[run_id][1] is None or running[run_id][1] < kill["clock"])
                ]
                kill["run"] = stopped[0] if stopped else None
            run_id = kill.get("run")
            started_again = run_id is not None and (
                attempts_now.get(run_id, 1) > kill["alive"][run_id]
            )
            if started_again and "recovered_s" not in kill:
                kill["recovered_s"] = round(now - kill["killed_at"], 1)


def simulate(url: str, args: argparse.Namespace, faults: bool) -> dict[str, Any]:
    instance = tempfile.mkdtemp(prefix="factoryweb-faults-")
    redis = Redis(instance)
    redis.start()
    queue = f"factoryweb-faults-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FACTORYWEB_INSTANCE": instance,
        "CELERY_BROKER_URL": redis.url,
        "CELERY_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    }
    processes: list[subprocess.Popen] = []

    def spawn(command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        processes.append(process)
        return process

    workers = [spawn(worker_command(queue, 1)) for _ in range(args.workers)]
    spawn(
        [
            sys.executable, "-m", "celery", "--app", "marketplace.tasks", "beat",
            "--schedule", os.path.join(instance, "beat"), "--loglevel", "WARNING",
        ]
    )  # fmt: skip
    injector = Faults(url, workers, redis, args) if faults else None
    try:
        if injector is not None:
            injector.start()
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable, "-m", "marketplace.cli", "simulate",
                "--factories", str(args.factories), "--orders", str(args.orders),
                "--weeks", str(args.weeks), "--seed", str(args.seed),
                "--concurrency", str(args.concurrency), "--batch", str(args.batch),
                "--time-limit", str(args.time_limit), "--json",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
    finally:
        if injector is not None:
            injector.stopped.set()
            injector.join(30)
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        redis.stop()
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(result.returncode)
    summary = json.loads(result.stdout)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        matching = connection.execute(
            sa.text("SELECT count(*) FROM purchase_order WHERE state = 'matching'")
        ).scalar()
        runs = dict(
            connection.execute(
                sa.text("SELECT state, count(*) FROM match_run GROUP BY state")
            ).all()
        )
        restarted = connection.execute(
            sa.text("SELECT count(*) FROM match_run WHERE attempts > 1")
        ).scalar()
    engine.dispose()
    report: dict[str, Any] = {
        "wall_s": round(wall, 1),
        "summary": summary,
        "orders_left_matching": matching,
        "runs_by_state": runs,
        "runs_started_more_than_once": restarted,
    }
    if injector is not None:
        recovered = [k["recovered_s"] for k in injector.kills if "recovered_s" in k]
        # A kill with no run hit a pool process that was between tasks.
        report["kills"] = [
            {key: k.get(key) for key in ("at_s", "run", "recovered_s")} for k in injector.kills
        ]
        report["recovery_s"] = {
            "count": len(recovered),
            "max": max(recovered, default=None),
            "mean": round(sum(recovered) / len(recovered), 1) if recovered else None,
        }
        report["broker"] = injector.broker
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--factories", type=int, default=60)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4, help="factory workers")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--batch", type=int, default=50, help="orders per matching run")
    parser.add_argument("--time-limit", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--kill-every", type=float, default=15.0)
    parser.add_argument("--broker-down-at", type=float, default=25.0)
    parser.add_argument("--broker-down-for", type=float, default=5.0)
    parser.add_argument("--no-baseline", action="store_true", help="only the run with faults")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

    report: dict[str, Any] = {"benchmark": "simulate through Celery under faults"}
    if not args.no_baseline:
        with scratch_database(args.database_url, "factoryweb_bench_calm") as url:
            report["without_faults"] = simulate(url, args, faults=False)
    with scratch_database(args.database_url, "factoryweb_bench_faults") as url:
        report["with_faults"] = simulate(url, args, faults=True)
    faulty = report["with_faults"]
    report["checks"] = {
        "overbooked_buckets": faulty["summary"]["overbooked_buckets"],
        "booking_mismatches": faulty["summary"]["booking_mismatches"],
        "orders_left_matching": faulty["orders_left_matching"],
        "worst_recovery_s": faulty["recovery_s"]["max"],
        "recovery_target_s": 60,
    }
    report["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
