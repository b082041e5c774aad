"""Background work after a commit: matching runs and webhook deliveries.

Services only note, on their session, which runs and deliveries are due; once the
session commits (so a worker can see the rows), the dispatcher hands them on:

* `celery`: to Celery workers through the broker (`CELERY_BROKER_URL`);
* `thread`: to a background thread of this process (the embedded default);
* `manual`: nowhere; the caller runs them (tests, `factoryweb simulate`).

The dispatcher is the application's (`app.extensions`), or the process default (Celery
workers configure theirs in `marketplace.tasks`). A rollback forgets what was noted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlmodel import Session

from marketplace.db import Database

log = logging.getLogger(__name__)

EXTENSION_KEY = "factoryweb.orders.dispatcher"
_PENDING_KEY = "factoryweb.orders.after_commit"


@dataclass
class Work:
    runs: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.runs or self.deliveries)


class Dispatcher(Protocol):
    mode: str

    def submit(self, work: Work) -> None: ...

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None: ...


class ManualDispatcher:
    """Keeps what was submitted; whoever holds it runs the work."""

    mode = "manual"

    def __init__(self) -> None:
        self.runs: list[int] = []
        self.deliveries: list[int] = []
        self.retries: list[tuple[int, float]] = []
        self._lock = threading.Lock()

    def submit(self, work: Work) -> None:
        with self._lock:
            self.runs.extend(work.runs)
            self.deliveries.extend(work.deliveries)

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
    ) -> None:
        self.database = database
        self.webhook_settings = webhook_settings or {}
        self.run_settings = {"deadline": deadline} if deadline is not None else {}
        self.threads: list[threading.Thread] = []
        # Work is started from request threads and from the dispatcher's own threads at
        # once: the list changes under this lock only, so no started thread is lost.
        self._lock = threading.Lock()
        self._housekeeper: threading.Thread | None = None
        self._stop = threading.Event()

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
        from marketplace.orders.runs import execute_run
        from marketplace.orders.webhooks import attempt_delivery

        for run_id in work.runs:
            self._start(
                _logged(
                    lambda r=run_id: execute_run(
                        self.database, r, dispatcher=self, **self.run_settings
                    )
                )
            )
        for delivery_id in work.deliveries:
            self._start(
                _logged(
                    lambda d=delivery_id: attempt_delivery(
                        self.database, d, dispatcher=self, **self.webhook_settings
                    )
                )
            )

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        from marketplace.orders.webhooks import attempt_delivery

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
        deliveries that are due (after a restart their timers are gone). Several
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
        while not self._stop.wait(interval_s):
            self.housekeeping()

    def housekeeping(self) -> dict[str, int]:
        """One round of upkeep (what the housekeeping thread does each interval)."""
        from marketplace.orders.housekeeping import run_housekeeping
        from marketplace.orders.webhooks import deliver_due

        result: dict[str, int] = {}
        try:
            result.update(run_housekeeping(self.database, self))
        except Exception:  # the next round tries again
            log.exception("housekeeping failed")
        try:
            result["webhook_attempts"] = deliver_due(
                self.database, dispatcher=self, **self.webhook_settings
            )
        except Exception:
            log.exception("delivering due webhooks failed")
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
        from marketplace import tasks

        if broker_url:
            tasks.use_broker(broker_url)
        self.queue = queue or tasks.QUEUE

    def submit(self, work: Work) -> None:
        from marketplace import tasks

        for run_id in work.runs:
            tasks.run_match.apply_async((run_id,), queue=self.queue)
        for delivery_id in work.deliveries:
            tasks.deliver_webhook.apply_async((delivery_id,), queue=self.queue)

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        from marketplace import tasks

        # due_only: beat's sweep of due deliveries may have made this attempt already.
        tasks.deliver_webhook.apply_async(
            (delivery_id,), {"due_only": True}, countdown=delay_s, queue=self.queue
        )


def _logged(target: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            target()
        except Exception:  # a background thread has no one else to tell
            log.exception("background work failed")

    return run


_process_default: Dispatcher | None = None


def set_process_default(dispatcher: Dispatcher | None) -> None:
    global _process_default
    _process_default = dispatcher


def current() -> Dispatcher:
    if has_app_context() and EXTENSION_KEY in current_app.extensions:
        return current_app.extensions[EXTENSION_KEY]
    if _process_default is None:
        raise RuntimeError("no dispatcher: call set_process_default() outside the app")
    return _process_default


def later(session: Session, *, runs: Iterable[int] = (), deliveries: Iterable[int] = ()) -> None:
    """Hand these runs and deliveries to the dispatcher once `session` commits."""
    work: Work = session.info.setdefault(_PENDING_KEY, Work())
    work.runs.extend(runs)
    work.deliveries.extend(deliveries)
    if "dispatcher" not in session.info:
        session.info["dispatcher"] = current()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    work: Work | None = session.info.pop(_PENDING_KEY, None)
    dispatcher = session.info.pop("dispatcher", None)
    if work and dispatcher is not None:
        dispatcher.submit(work)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop("dispatcher", None)
