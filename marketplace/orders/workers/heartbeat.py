"""A run's liveness and live figures, written from the worker solving it: its heartbeat
every two seconds (a run whose heartbeat stops has lost its worker,
`marketplace.orders.workers.recovery`), and its progress at most twice a second, each
in a short transaction of its own."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlmodel import col

from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders.models import MatchRun, MatchRunState

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5


class ProgressWriter:
    """The engine's on_progress: keeps the best figures, writes them now and then."""

    def __init__(self, database: Database, run_id: int, started: float) -> None:
        self.database = database
        self.run_id = run_id
        self.started = started
        self.latest: dict[str, Any] = {"phase": "solving"}
        self.last_write = 0.0
        self.lock = threading.Lock()

    def __call__(self, update: dict[str, Any]) -> None:
        with self.lock:
            for key in ("fill", "cost", "bound"):
                if update.get(key) is not None:
                    self.latest[key] = update[key]
            self.latest["elapsed_s"] = round(time.perf_counter() - self.started, 2)
            now = time.perf_counter()
            if now - self.last_write < PROGRESS_INTERVAL_S:
                return
            self.last_write = now
            self.write()

    def write(self) -> None:
        try:
            with self.database.session() as session:
                session.execute(
                    sa.update(MatchRun)
                    .where(col(MatchRun.id) == self.run_id)
                    .values(progress=dict(self.latest))
                )
        except exc.SQLAlchemyError:  # the figures are shown again at the next write
            log.warning("run %s: progress not written", self.run_id)


HEARTBEAT_INTERVAL_S = 2.0


class Heartbeat:
    """Writes the run's heartbeat every few seconds while this attempt runs it, from a
    thread of its own, so that a run that is busy solving still shows it is alive. A
    write that fails (the database away for a moment) is tried at the next beat."""

    def __init__(self, database: Database, run_id: int, attempt: int) -> None:
        self.database = database
        self.run_id = run_id
        self.attempt = attempt
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"run-{run_id}-heartbeat")
        self.thread.daemon = True

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(HEARTBEAT_INTERVAL_S * 2)

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_INTERVAL_S):
            try:
                with self.database.session() as session:
                    session.execute(
                        sa.update(MatchRun)
                        .where(
                            col(MatchRun.id) == self.run_id,
                            col(MatchRun.state) == MatchRunState.RUNNING,
                            col(MatchRun.attempts) == self.attempt,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except exc.SQLAlchemyError:
                log.warning("run %s: heartbeat not written; trying again", self.run_id)
