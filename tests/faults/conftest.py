"""Faults done for real: Celery workers and beat in processes of their own, a Redis the
test starts and stops, PostgreSQL connections terminated, SIGTERM to real servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import MatchRun, Order
from marketplace.orders.posting.service import create_order
from marketplace.orders.runs.service import start_run
from marketplace.orders.workers.queue import worker_command
from tests.orders.conftest import (  # noqa: F401
    ROOT,
    committed,
    committed_app,
    committed_url,
    line,
    order_input,
    person,
    principal,
)
from tests.orders.test_matching_runs import big_cluster

# Short enough for a test, the same rules as in production (30 s, 45 s, 10 s there).
FAST_RECOVERY = {
    "RUN_SILENCE_S": "4",
    "RUN_REDISPATCH_S": "3",
    "RUN_RECOVERY_INTERVAL_S": "1",
    "ORDERS_HOUSEKEEPING_INTERVAL_S": "30",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until `predicate()` is true; AssertionError after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


@dataclass
class RedisServer:
    """A Redis of the test's own, without persistence, that it can stop and start."""

    port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: _listening(self.port), 10, "redis started")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@dataclass
class Background:
    """The Celery processes of a test: workers and beat, with their logs."""

    env: dict[str, str]
    queue: str
    tmp_path: Path
    processes: list[tuple[subprocess.Popen, Path]]

    def _spawn(self, command: list[str], name: str) -> subprocess.Popen:
        log = self.tmp_path / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((process, log))
        return process

    def worker(self, concurrency: int = 1) -> subprocess.Popen:
        return self._spawn(worker_command(self.queue, concurrency), "worker")

    def beat(self) -> subprocess.Popen:
        schedule = self.tmp_path / f"beat-{uuid.uuid4().hex[:6]}"
        return self._spawn(
            [
                sys.executable, "-m", "celery", "--app", "marketplace.tasks", "beat",
                "--schedule", str(schedule), "--loglevel", "WARNING",
            ],
            "beat",
        )  # fmt: skip

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for _, log in self.processes)

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def background(committed_url, tmp_path):  # noqa: F811
    """background(broker) -> Background: Celery processes on `broker` and the committed
    database, recovering runs within seconds; stopped after the test."""
    made: list[Background] = []

    def make(broker: str, **environment: str) -> Background:
        queue = f"factoryweb-faults-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "DATABASE_URL": committed_url,
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": queue,
            "PYTHONPATH": str(ROOT),
            **FAST_RECOVERY,
            **environment,
        }
        made.append(Background(env, queue, tmp_path, []))
        return made[-1]

    yield make
    for each in made:
        each.stop()


def queue_heavy_run(committed, process: str, material: str, time_limit_s: float) -> tuple:  # noqa: F811
    """A batch run of three large orders on a cluster of its own, that uses its whole
    time limit; queued and committed (not yet handed to any dispatcher)."""
    with committed.session() as session:
        big_cluster(session, process, material, shops=14)
        member = person(session, OrganizationKind.BUYER, Role.BUYER_MEMBER)
        who = principal(session, member)
        orders = [
            create_order(
                session,
                who,
                order_input(
                    *[
                        line(
                            process_code=process,
                            material=material,
                            hours=Decimal(4 + (i * 7 + k) % 19),
                            splittable=i % 4 == 0,
                        )
                        for i in range(45)
                    ],
                    weeks=5,
                ),
                submit=True,
            )
            for k in range(3)
        ]
        session.flush()
        session.info["dispatcher"] = _Nowhere()
        run = start_run(
            session, orders, organization_id=member.organization.id, time_limit_s=time_limit_s
        )
        return run.id, [o.id for o in orders]


class _Nowhere:
    """A dispatcher that keeps nothing: the test hands the run over itself."""

    mode = "manual"

    def submit(self, work: object) -> None:
        return None

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        return None


def run_of(committed, run_id: int) -> MatchRun:  # noqa: F811
    with committed.session() as session:
        return session.get(MatchRun, run_id)


def books_balance(committed, resource: str) -> tuple[int, int]:  # noqa: F811
    """(overbooked buckets, buckets whose booked or held hours differ from their slots),
    among the buckets of `resource` (the test's own cluster)."""
    with committed.session() as session:
        overbooked = session.execute(
            sa.text(
                "SELECT count(*) FROM capacity_bucket "
                "WHERE resource = :resource AND booked_hours > maximum_hours"
            ),
            {"resource": resource},
        ).scalar()
        mismatched = session.execute(
            sa.text(
                """
                SELECT count(*) FROM capacity_bucket b
                LEFT JOIN (
                    SELECT bucket_id,
                           sum(hours) FILTER (WHERE state IN ('held', 'confirmed')) AS booked,
                           sum(hours) FILTER (WHERE state = 'held') AS held
                    FROM proposal_slot GROUP BY bucket_id
                ) s ON s.bucket_id = b.id
                WHERE b.resource = :resource
                  AND (b.booked_hours <> coalesce(s.booked, 0)
                       OR b.held_hours <> coalesce(s.held, 0))
                """
            ),
            {"resource": resource},
        ).scalar()
    return overbooked, mismatched


def order_states(committed, order_ids: list[int]) -> list[str]:  # noqa: F811
    with committed.session() as session:
        return [
            o.state
            for o in session.exec(
                select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)  # type: ignore[union-attr]
            )
        ]
