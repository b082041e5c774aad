"""Where committed work goes: the dispatchers the outbox hands runs and webhook
deliveries to (`marketplace.orders.outbox`).

* `celery`: to Celery workers through the broker (`CELERY_BROKER_URL`);
* `thread`: to a background thread of this process (the embedded default), which also
  keeps house every few minutes (what Celery beat does otherwise);
* `manual`: nowhere; the caller runs them (tests, `factoryweb simulate`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from celery import group
from sqlmodel import col

from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders.models import MatchRun, MatchRunState
from marketplace.orders.notify.webhooks import attempt_delivery, deliver_due
from marketplace.orders.outbox import JobExecutor, Sweep, Work
from marketplace.orders.workers.housekeeping import run_housekeeping
from marketplace.orders.workers.matching import execute_run
from marketplace.orders.workers.queue import (
    DELIVER_WEBHOOK,
    PUBLISH_RETRY,
    QUEUE,
    RUN_MATCH,
    SOLVE_PART,
    celery_app,
    use_broker,
)
from marketplace.orders.workers.recovery import recover_runs

log = logging.getLogger(__name__)


class ManualDispatcher:
    """Keeps what was submitted; whoever holds it runs the work."""

    mode = "manual"

    def __init__(self) -> None:
        self.runs: list[int] = []
        self.deliveries: list[int] = []
        self.jobs: list[tuple[str, int]] = []
        self.retries: list[tuple[int, float]] = []
        self.executors: dict[str, JobExecutor] = {}
        self.sweeps: list[Sweep] = []
        self._lock = threading.Lock()

    def register(self, kind: str, executor: JobExecutor) -> None:
        """Nothing runs here by itself; the holder takes the jobs (`take_jobs`) or runs
        them (`run_jobs`)."""
        self.executors[kind] = executor

    def add_sweep(self, sweep: Sweep) -> None:
        """Nothing runs here by itself; the holder runs them (`run_sweeps`)."""
        self.sweeps.append(sweep)

    def submit(self, work: Work) -> None:
        with self._lock:
            self.runs.extend(work.runs)
            self.deliveries.extend(work.deliveries)
            self.jobs.extend(work.jobs)

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        with self._lock:
            self.retries.append((delivery_id, delay_s))

    def take_runs(self) -> list[int]:
        with self._lock:
            runs, self.runs = self.runs, []
        return runs

    def take_deliveries(self) -> list[int]:
        with self._lock:
            deliveries, self.deliveries = self.deliveries, []
        return deliveries

    def take_jobs(self) -> list[tuple[str, int]]:
        with self._lock:
            jobs, self.jobs = self.jobs, []
        return jobs

    def run_jobs(self, database: Database, rounds: int = 20) -> list[object]:
        """Run the jobs submitted so far, then those they submitted, and so on; what each
        returned, in order."""
        results: list[object] = []
        for _ in range(rounds):
            jobs = self.take_jobs()
            if not jobs:
                break
            for kind, job_id in jobs:
                results.append(self.executors[kind](database, job_id, dispatcher=self))
        return results

    def run_sweeps(self, database: Database) -> list[object]:
        return [sweep(database, self) for sweep in self.sweeps]


class ThreadDispatcher:
    """Runs each piece of work in a daemon thread of this process, and (once
    `start_housekeeping` is called) the periodic upkeep Celery beat runs otherwise:
    expiring proposals, recovering lost runs, retrying due webhooks."""

    mode = "thread"

    def __init__(
        self,
        database: Database,
        webhook_settings: dict | None = None,
        deadline: timedelta | None = None,
        liveness: dict | None = None,
        recovery_interval_s: float = 10.0,
    ) -> None:
        self.database = database
        self.webhook_settings = webhook_settings or {}
        self.run_settings: dict[str, Any] = {"deadline": deadline} if deadline is not None else {}
        self.liveness = liveness or {}
        self.recovery_interval_s = recovery_interval_s
        self.threads: list[threading.Thread] = []
        # Work is started from request threads and from the dispatcher's own threads at
        # once: the list changes under this lock only, so no started thread is lost.
        self._lock = threading.Lock()
        self._housekeeper: threading.Thread | None = None
        self._stop = threading.Event()
        # Runs this process is executing: handed back if it stops before they end.
        self.running: set[int] = set()
        # Other areas' work and upkeep (`register`, `add_sweep`).
        self.executors: dict[str, JobExecutor] = {}
        self.sweeps: list[Sweep] = []

    def register(self, kind: str, executor: JobExecutor) -> None:
        """Run jobs of `kind` with `executor(database, job_id, dispatcher=self)`."""
        self.executors[kind] = executor

    def add_sweep(self, sweep: Sweep) -> None:
        """Run `sweep(database, self)` with every round of housekeeping."""
        self.sweeps.append(sweep)

    def _start(self, target: Callable[[], object], delay_s: float = 0.0) -> None:
        thread: threading.Thread
        if delay_s > 0:
            thread = threading.Timer(delay_s, target)
        else:
            thread = threading.Thread(target=target)
        thread.daemon = True
        with self._lock:
            thread.start()
            self.threads = [t for t in self.threads if t.is_alive()] + [thread]

    def submit(self, work: Work) -> None:
        for run_id in work.runs:
            self._start(_logged(partial(self._execute, run_id)))
        for kind, job_id in work.jobs:
            executor = self.executors[kind]
            self._start(_logged(partial(executor, self.database, job_id, dispatcher=self)))
        for delivery_id in work.deliveries:
            self._start(
                _logged(
                    partial(
                        attempt_delivery,
                        self.database,
                        delivery_id,
                        dispatcher=self,
                        **self.webhook_settings,
                    )
                )
            )

    def _execute(self, run_id: int) -> None:
        with self._lock:
            self.running.add(run_id)
        try:
            execute_run(self.database, run_id, dispatcher=self, **self.run_settings)
        finally:
            with self._lock:
                self.running.discard(run_id)

    def hand_back(self) -> list[int]:
        """The process is stopping (SIGTERM): the runs it is executing go back to the
        queue at once, for another process to take (its recovery sweep hands them over),
        instead of waiting until their silence gives them away. The threads still
        running them apply nothing: the run is no longer their attempt's."""
        with self._lock:
            runs = sorted(self.running)
        if runs:
            with self.database.session() as session:
                session.execute(
                    sa.update(MatchRun)
                    .where(
                        col(MatchRun.id).in_(runs),
                        col(MatchRun.state) == MatchRunState.RUNNING,
                    )
                    .values(
                        state=MatchRunState.QUEUED,
                        dispatched_at=None,
                        progress={"phase": "queued", "interrupted": "shutdown"},
                    )
                )
            log.warning("stopping: runs %s handed back to the queue", runs)
        return runs

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        # due_only: the housekeeping round may have made this attempt already.
        self._start(
            _logged(
                lambda: attempt_delivery(
                    self.database,
                    delivery_id,
                    dispatcher=self,
                    due_only=True,
                    **self.webhook_settings,
                )
            ),
            delay_s,
        )

    def start_housekeeping(self, interval_s: float) -> bool:
        """Every `interval_s` seconds, in a daemon thread: expire proposals past their
        deadline (re-matching their work), recover lost runs and attempt the webhook
        deliveries that are due (after a restart their timers are gone); and, every
        `recovery_interval_s` in between, look for runs that lost their worker. Several
        processes may each run it: every step locks or skips what another one holds.
        Started once per dispatcher; False if it already runs."""
        if self._housekeeper is not None or interval_s <= 0:
            return False
        with self._lock:
            if self._housekeeper is not None:
                return False
            self._stop.clear()
            self._housekeeper = threading.Thread(
                target=self._keep_house, args=(interval_s,), name="orders-housekeeping"
            )
            self._housekeeper.daemon = True
            self._housekeeper.start()
        return True

    def _keep_house(self, interval_s: float) -> None:
        tick = min(interval_s, self.recovery_interval_s)
        next_round = time.monotonic() + interval_s
        while not self._stop.wait(tick):
            if time.monotonic() >= next_round:
                next_round = time.monotonic() + interval_s
                self.housekeeping()
            else:
                self.recover()

    def recover(self) -> dict[str, int]:
        """Look for runs that lost their worker or their hand-off."""
        try:
            return recover_runs(self.database, self, utcnow(), **self.liveness)
        except Exception:  # the next round tries again
            log.exception("recovering runs failed")
            return {}

    def housekeeping(self) -> dict[str, int]:
        """One round of upkeep (what the housekeeping thread does each interval)."""
        result: dict[str, int] = {}
        try:
            result.update(run_housekeeping(self.database, self, **self.liveness))
        except Exception:  # the next round tries again
            log.exception("housekeeping failed")
        try:
            result["webhook_attempts"] = deliver_due(
                self.database, dispatcher=self, **self.webhook_settings
            )
        except Exception:
            log.exception("delivering due webhooks failed")
        for sweep in self.sweeps:
            try:
                outcome = sweep(self.database, self)
            except Exception:
                log.exception("sweep %s failed", getattr(sweep, "__name__", sweep))
            else:
                if isinstance(outcome, dict):
                    result.update(outcome)
        return result

    def stop_housekeeping(self, timeout: float = 30.0) -> bool:
        """Stop the housekeeping thread after its current round; False if that round is
        still running after `timeout` seconds."""
        with self._lock:
            housekeeper, self._housekeeper = self._housekeeper, None
        if housekeeper is None:
            return True
        self._stop.set()
        housekeeper.join(timeout)
        return not housekeeper.is_alive()

    def join(self, timeout: float = 30.0) -> bool:
        """Wait for the work started so far, and for the work it starts in turn; False
        if some of it is still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                return True
            if time.monotonic() >= deadline:
                return False
            for thread in alive:
                thread.join(max(0.0, deadline - time.monotonic()))


class CeleryDispatcher:
    """Sends the work to Celery workers (`marketplace.tasks`) through the broker."""

    mode = "celery"

    def __init__(self, broker_url: str | None = None, queue: str | None = None) -> None:
        if broker_url:
            use_broker(broker_url)
        self.queue = queue or QUEUE

    def submit(self, work: Work) -> None:
        """Hand the work to the broker. A broker that does not answer loses nothing: the
        rows stay queued or due, and housekeeping hands them over again once it is back;
        the request that queued them is not held up for long, nor refused."""
        for run_id in work.runs:
            self._send(RUN_MATCH, (run_id,), {})
        for delivery_id in work.deliveries:
            self._send(DELIVER_WEBHOOK, (delivery_id,), {})
        # Other areas' jobs: the Celery task of each kind bears its name.
        for kind, job_id in work.jobs:
            self._send(kind, (job_id,), {})

    def submit_parts(self, run_id: int, parts: int) -> None:
        """One `orders.solve_part` task per part of a run solved in parts, as a Celery
        group (`marketplace.orders.workers.fanout`); the parts are committed already."""
        group(
            celery_app.signature(SOLVE_PART, args=(run_id, part_no), queue=self.queue)
            for part_no in range(parts)
        ).apply_async(retry=True, retry_policy=PUBLISH_RETRY)

    def register(self, kind: str, executor: JobExecutor) -> None:
        """Workers run `kind` as the Celery task of that name (`marketplace.tasks`)."""

    def add_sweep(self, sweep: Sweep) -> None:
        """Celery beat runs the sweeps (`marketplace.tasks`)."""

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        # due_only: beat's sweep of due deliveries may have made this attempt already.
        self._send(DELIVER_WEBHOOK, (delivery_id,), {"due_only": True}, countdown=delay_s)

    def _send(
        self, task: str, args: tuple[Any, ...], kwargs: dict[str, Any], countdown: float = 0
    ) -> None:
        try:
            celery_app.send_task(
                task,
                args,
                kwargs,
                countdown=countdown or None,
                queue=self.queue,
                retry=True,
                retry_policy=PUBLISH_RETRY,
            )
        except Exception as error:  # kombu's errors of an unreachable broker vary
            log.warning(
                "%s%r not handed to the broker (%s); housekeeping hands it over once the "
                "broker answers again",
                task,
                args,
                error,
            )


def _logged(target: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            target()
        except Exception:  # a background thread has no one else to tell
            log.exception("background work failed")

    return run
