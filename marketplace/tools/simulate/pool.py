"""The simulation's matching runs without Celery: a bounded pool of threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.workers.matching import execute_run


class PoolDispatcher:
    """Runs matching runs on a bounded thread pool (the simulation without Celery)."""

    mode = "thread"

    def __init__(self, database: Database, workers: int) -> None:
        self.database = database
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-run")
        self.lock = threading.Lock()
        self.pending = 0
        self.errors: list[BaseException] = []

    def submit(self, work: outbox.Work) -> None:
        for run_id in work.runs:
            with self.lock:
                self.pending += 1
            self.pool.submit(self._run, run_id)

    def _run(self, run_id: int) -> None:
        try:
            execute_run(self.database, run_id, dispatcher=self, workers=1)
        except BaseException as error:  # surfaced by the simulation's summary
            self.errors.append(error)
        finally:
            with self.lock:
                self.pending -= 1

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        return None

    def close(self) -> None:
        self.pool.shutdown(wait=True)
