"""The worker (`factoryweb telemetry run`): MQTT and OPC UA feed one queue; the main
thread takes what has arrived in batches through the one observation service, until it
is told to stop or its time is up (docs/telemetry.md, "The worker")."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from factories.telemetry.ingest import Ingestor, Received, Stats
from factories.telemetry.mqtt import DEFAULT_SHARE_GROUP, MqttSource
from factories.telemetry.opcua import OpcUaMachine, OpcUaSource

log = logging.getLogger("factoryweb.telemetry")

# A batch is what arrived within 100 ms of its first message (at most 2,000 messages):
# one transaction, one statement for the machines and observations, each process set
# once. When the worker is behind, what is queued is taken at once.
BATCH_MAX = 2000
BATCH_WAIT_S = 0.1


class Worker:
    def __init__(
        self,
        ingestor: Ingestor,
        mqtt_url: str | None,
        opcua_machines: Callable[[], list[OpcUaMachine]] | None = None,
        client_id: str | None = None,
        poll_s: float | None = None,
        *,
        share_group: str | None = DEFAULT_SHARE_GROUP,
        reload_s: float | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.mqtt = (
            MqttSource(mqtt_url, self.inbox, ingestor.stats, client_id, share_group)
            if mqtt_url
            else None
        )
        timing = {
            name: value
            for name, value in (("poll_s", poll_s), ("reload_s", reload_s))
            if value is not None
        }
        self.opcua = (
            OpcUaSource(opcua_machines, self.inbox, ingestor.stats, **timing)
            if opcua_machines is not None
            else None
        )
        self.on_stop = on_stop

    @property
    def stats(self) -> Stats:
        return self.ingestor.stats

    def run(self, seconds: float | None = None, stop: threading.Event | None = None) -> Stats:
        stop = stop or threading.Event()
        deadline = time.monotonic() + seconds if seconds is not None else None
        self._safely(lambda: self.ingestor.new_week(self.ingestor.clock()))
        for source in (self.mqtt, self.opcua):
            if source is not None:
                source.start()
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                batch = self._next_batch(deadline)
                if batch:
                    self._safely(lambda b=batch: self.ingestor.handle(b))  # type: ignore[misc]
                else:  # quiet: still follow the calendar into a new week
                    self._safely(lambda: self.ingestor.new_week(self.ingestor.clock()))
        finally:
            for source in (self.mqtt, self.opcua):
                if source is not None:
                    source.stop()
            if self.on_stop is not None:
                self.on_stop()
        rest = self._next_batch(time.monotonic())
        if rest:
            self._safely(lambda: self.ingestor.handle(rest))
        return self.stats

    def _next_batch(self, deadline: float | None) -> list[Received]:
        wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        try:
            batch = [self.inbox.get(timeout=wait)]
        except queue.Empty:
            return []
        until = batch[0].clock + BATCH_WAIT_S
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self.inbox.get(timeout=max(0.0, until - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _safely(self, work: Callable[[], None]) -> None:
        """Nothing stops the worker: a database that is away costs the batch, not the loop."""
        try:
            work()
        except Exception:
            log.exception("telemetry batch failed")
            time.sleep(1)
