"""From received messages to observations: find the machine, check the message, take a
batch in one transaction, count everything (docs/telemetry.md, "Errors", "The worker").

A bad message is rejected, counted under its reason and logged with its topic; nothing
it does stops the next one. A batch the database refuses is taken again one message at a
time, so one poisoned message costs only itself.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from sqlmodel import Session, select

from factories.capacity.floor import Shortfall
from factories.capacity.weeks import monday_of
from factories.models import Factory, utcnow
from factories.telemetry.messages import (
    Reading,
    Rejected,
    parse_payload,
    parse_topic,
    topic_for,
)
from factories.telemetry.models import Machine
from factories.telemetry.service import BatchOutcome, Item, observe_batch, recompute_all

log = logging.getLogger("factoryweb.telemetry")

# How long "no such machine" is believed before the database is asked again.
UNKNOWN_FOR_S = 10.0
LAGS_KEPT = 200_000


class ShortfallHandler(Protocol):
    """Told, inside the transaction that set the maximum, which cells machines would have
    taken below their booked hours (the marketplace marks the work there at risk)."""

    def __call__(
        self, session: Session, factory: Factory, shortfalls: list[Shortfall], now: datetime
    ) -> None: ...


@dataclass
class Received:
    """A message as it arrived: from MQTT a topic and payload; from OPC UA a reading of a
    known machine (`topic` then names the endpoint and node, for the log)."""

    topic: str
    payload: bytes = b""
    received_at: datetime = field(default_factory=utcnow)
    clock: float = field(default_factory=time.monotonic)
    reading: Reading | None = None
    machine_pk: int | None = None
    source: str = "mqtt"


@dataclass
class Stats:
    received: int = 0
    applied: int = 0
    stale: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    lags_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LAGS_KEPT))
    connections: int = 0

    def reject(self, reason: str, topic: str, detail: object = "") -> None:
        self.rejected[reason] += 1
        log.warning("rejected %s message on %s: %s", reason, topic, detail)

    def lag_p95(self) -> float | None:
        if not self.lags_ms:
            return None
        ordered = sorted(self.lags_ms)
        return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1)

    def summary(self) -> dict[str, object]:
        """The worker's JSON line (docs/telemetry.md)."""
        return {
            "received": self.received,
            "applied": self.applied,
            "stale": self.stale,
            "rejected": dict(sorted(self.rejected.items())),
            "lag_ms_p95": self.lag_p95(),
        }


class Ingestor:
    def __init__(
        self,
        sessions: Callable[[], AbstractContextManager[Session]],
        on_shortfall: ShortfallHandler | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.on_shortfall = on_shortfall
        self.clock = clock
        self.stats = Stats()
        # topic -> machine row id: most messages come from machines heard before.
        self._topics: dict[str, int] = {}
        self._machines: dict[tuple[str, str], int] = {}
        self._unknown: dict[tuple[str, str], tuple[float, str]] = {}
        self._week: date | None = None

    # Which machine ------------------------------------------------------------------

    def machine_pk(self, session: Session, urn: str, machine_id: str) -> int:
        key = (urn, machine_id)
        if key in self._machines:
            return self._machines[key]
        missing = self._unknown.get(key)
        if missing is not None and time.monotonic() - missing[0] < UNKNOWN_FOR_S:
            raise Rejected(missing[1], f"{urn} {machine_id}")
        found = session.exec(
            select(Machine.id, Factory.id)
            .join(Factory, Factory.id == Machine.factory_id)  # type: ignore[arg-type]
            .where(Factory.global_id == urn, Machine.machine_id == machine_id)
        ).first()
        if found is not None and found[0] is not None:
            self._machines[key] = found[0]
            return found[0]
        known_factory = session.exec(select(Factory.id).where(Factory.global_id == urn)).first()
        reason = "unknown_machine" if known_factory is not None else "unknown_factory"
        self._unknown[key] = (time.monotonic(), reason)
        raise Rejected(reason, f"{urn} {machine_id}")

    def forget_machines(self) -> None:
        """Registrations changed: look machines up again."""
        self._topics.clear()
        self._machines.clear()
        self._unknown.clear()

    def load_machines(self, session: Session) -> None:
        """Every registered machine at once, rather than one query per machine heard."""
        rows = session.exec(
            select(Factory.global_id, Machine.machine_id, Machine.id).join(
                Factory,
                Factory.id == Machine.factory_id,  # type: ignore[arg-type]
            )
        ).all()
        for urn, machine_id, pk in rows:
            if pk is not None:
                self._machines[(urn, machine_id)] = pk
                self._topics[topic_for(urn, machine_id)] = pk

    def _forget(self, pks: set[int]) -> None:
        """These machines were removed: messages naming them are looked up again."""
        self._topics = {t: pk for t, pk in self._topics.items() if pk not in pks}
        self._machines = {k: pk for k, pk in self._machines.items() if pk not in pks}

    # Taking messages ----------------------------------------------------------------

    def new_week(self, now: datetime) -> None:
        """When the worker starts and each time a week begins: every machine-fed process
        is set again, so that the week now entering the calendar follows its machines."""
        week = monday_of(now.date())
        if self._week == week:
            return
        with self.sessions() as session:
            found = recompute_all(session, now.date(), now)
            self._tell(session, found, {}, now)
            session.commit()
            self.load_machines(session)
        self._week = week

    def handle(self, batch: list[Received]) -> None:
        """Take a batch: each message is counted once as applied, stale or rejected."""
        if not batch:
            return
        now = self.clock()
        self.new_week(now)
        self.stats.received += len(batch)
        accepted: list[tuple[Received, Item]] = []
        with self.sessions() as session:
            for message in batch:
                try:
                    accepted.append((message, self._item(session, message, now)))
                except Rejected as error:
                    self.stats.reject(error.reason, message.topic, error)
        if not accepted:
            return
        try:
            self._commit([item for _, item in accepted], now)
        except Exception:
            if len(accepted) == 1:
                message = accepted[0][0]
                log.exception("could not take the message on %s", message.topic)
                self.stats.rejected["error"] += 1
                return
            for one in accepted:
                self._one(one, now)
            return
        self._done([m for m, _ in accepted])

    def _one(self, accepted: tuple[Received, Item], now: datetime) -> None:
        message, item = accepted
        try:
            self._commit([item], now)
        except Exception:
            log.exception("could not take the message on %s", message.topic)
            self.stats.rejected["error"] += 1
        else:
            self._done([message])

    def _item(self, session: Session, message: Received, now: datetime) -> Item:
        if message.reading is not None and message.machine_pk is not None:
            return Item(message.machine_pk, message.reading, message.received_at, message.source)
        pk = self._topics.get(message.topic)
        if pk is None:
            urn, machine_id = parse_topic(message.topic)
            reading = parse_payload(message.payload, now)
            pk = self.machine_pk(session, urn, machine_id)
            self._topics[message.topic] = pk
        else:
            reading = parse_payload(message.payload, now)
        return Item(pk, reading, message.received_at, message.source)

    def _commit(self, items: list[Item], now: datetime) -> None:
        with self.sessions() as session:
            outcome = observe_batch(session, items, now.date(), now)
            self._tell(session, outcome.shortfalls, outcome.factories, now)
            session.commit()
        self.stats.applied += outcome.applied
        self.stats.stale += outcome.stale
        if outcome.duplicate:
            # A message delivered again is no fault of the machine's: counted, not logged.
            self.stats.rejected["duplicate"] += outcome.duplicate
        if outcome.missing:
            self.stats.rejected["unknown_machine"] += len(outcome.missing)
            self._forget(set(outcome.missing))

    def _tell(
        self,
        session: Session,
        shortfalls: dict[int, list[Shortfall]],
        factories: dict[int, Factory],
        now: datetime,
    ) -> None:
        if self.on_shortfall is None:
            return
        for factory_id, cells in sorted(shortfalls.items()):
            factory = factories.get(factory_id) or session.get(Factory, factory_id)
            if factory is not None:
                self.on_shortfall(session, factory, cells, now)

    def _done(self, messages: list[Received]) -> None:
        finished = time.monotonic()
        self.stats.lags_ms.extend((finished - m.clock) * 1000 for m in messages)


__all__ = ["BatchOutcome", "Ingestor", "Received", "Stats"]
