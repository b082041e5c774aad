"""The after-commit outbox: work that must not run inside a request's transaction.

A service that creates a matching run or a webhook delivery writes its row in the same
transaction as the business change, and notes the row here (`later`). Once the session
commits, so that a worker can see the rows, the noted work is handed to the
application's dispatcher (`marketplace.orders.workers.dispatchers`): Celery, a thread of
this process, or nobody (tests and the simulation run it themselves). A rollback
forgets what was noted, so nothing runs for a change that never happened. Rows left
behind by a process that died are found again by housekeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlmodel import Session

EXTENSION_KEY = "factoryweb.orders.dispatcher"
SESSION_DISPATCHER = "dispatcher"
_PENDING_KEY = "factoryweb.orders.after_commit"


@dataclass
class Work:
    runs: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)
    # Work of other areas: (kind, row id), run by the executor the area registered for
    # `kind` with the dispatcher (the payments area's gateway calls, for one).
    jobs: list[tuple[str, int]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.runs or self.deliveries or self.jobs)


# An area's job: given the database, the row id and the dispatcher, do the work.
JobExecutor = Callable[..., object]
# An area's periodic upkeep: given the database and the dispatcher.
Sweep = Callable[..., object]


class Dispatcher(Protocol):
    """Where committed work goes (see `marketplace.orders.workers.dispatchers`)."""

    mode: str

    def submit(self, work: Work) -> None: ...

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None: ...

    def register(self, kind: str, executor: JobExecutor) -> None: ...

    def add_sweep(self, sweep: Sweep) -> None: ...


_process_default: Dispatcher | None = None


def set_process_default(dispatcher: Dispatcher | None) -> None:
    """The dispatcher of a process without an application (a Celery worker)."""
    global _process_default
    _process_default = dispatcher


def current() -> Dispatcher:
    if has_app_context() and EXTENSION_KEY in current_app.extensions:
        return current_app.extensions[EXTENSION_KEY]
    if _process_default is None:
        raise RuntimeError("no dispatcher: call set_process_default() outside the app")
    return _process_default


def use_dispatcher(session: Session, dispatcher: Dispatcher) -> None:
    """Hand this session's work to `dispatcher` rather than the application's."""
    session.info[SESSION_DISPATCHER] = dispatcher


def later(
    session: Session,
    *,
    runs: Iterable[int] = (),
    deliveries: Iterable[int] = (),
    jobs: Iterable[tuple[str, int]] = (),
) -> None:
    """Hand these runs, deliveries and jobs to the dispatcher once `session` commits."""
    work: Work = session.info.setdefault(_PENDING_KEY, Work())
    work.runs.extend(runs)
    work.deliveries.extend(deliveries)
    work.jobs.extend(jobs)
    if SESSION_DISPATCHER not in session.info:
        session.info[SESSION_DISPATCHER] = current()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    work: Work | None = session.info.pop(_PENDING_KEY, None)
    dispatcher = session.info.pop(SESSION_DISPATCHER, None)
    if work and dispatcher is not None:
        dispatcher.submit(work)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(SESSION_DISPATCHER, None)
