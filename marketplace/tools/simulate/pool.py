"""The simulation's background work without Celery: a bounded pool of threads runs the
matching runs and the other areas' jobs (gateway calls); webhooks are not sent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.workers.matching import execute_run


class PoolDispatcher:
    """Runs matching runs and registered jobs on a bounded thread pool."""

    mode = "thread"

    def __init__(self, database: Database, workers: int) -> None:
        self.database = database
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-work")
        self.lock = threading.Lock()
        self.pending = 0
        self.errors: list[BaseException] = []
        self.executors: dict[str, outbox.JobExecutor] = {}
        self.sweeps: list[outbox.Sweep] = []

    def register(self, kind: str, executor: outbox.JobExecutor) -> None:
        self.executors[kind] = executor

    def add_sweep(self, sweep: outbox.Sweep) -> None:
        self.sweeps.append(sweep)

    def submit(self, work: outbox.Work) -> None:
        for run_id in work.runs:
            self._start(partial(execute_run, self.database, run_id, dispatcher=self, workers=1))
        for kind, job_id in work.jobs:
            executor = self.executors[kind]
            self._start(partial(executor, self.database, job_id, dispatcher=self))

    def _start(self, task: Callable[[], object]) -> None:
        with self.lock:
            self.pending += 1
        self.pool.submit(self._run, task)

    def _run(self, task: Callable[[], object]) -> None:
        try:
            task()
        except BaseException as error:  # surfaced by the simulation's summary
            self.errors.append(error)
        finally:
            with self.lock:
                self.pending -= 1

    def sweep(self) -> None:
        """One round of every area's upkeep (retries that came due, say)."""
        for sweep in self.sweeps:
            sweep(self.database, self)

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        return None

    def close(self) -> None:
        self.pool.shutdown(wait=True)
