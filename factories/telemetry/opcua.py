"""OPC UA in (asyncua): read the MachineryItemState (and, optionally, this week's available
hours) of every registered machine that names an endpoint, by subscription where the
server allows it, else by polling every 10 s. Each change becomes a reading handed to the
worker's queue, exactly like an MQTT message (docs/telemetry.md, "OPC UA").

One asyncio loop on its own thread; each endpoint is watched by its own task, which
reconnects with a growing delay (1 s up to 30 s) when the server goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncua import Client, ua

from factories.capacity.weeks import monday_of, week_label
from factories.models import utcnow
from factories.telemetry.ingest import Received, Stats
from factories.telemetry.messages import Rejected, parse_document

log = logging.getLogger("factoryweb.telemetry")

POLL_S = 10.0
RELOAD_S = 60.0
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0
PUBLISHING_INTERVAL_MS = 500


@dataclass(frozen=True)
class OpcUaMachine:
    machine_pk: int
    endpoint: str
    state_node: str
    hours_node: str = ""


def _plain(value: Any) -> Any:
    """A state given as LocalizedText or an enumeration reads as its text or number."""
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, ua.QualifiedName):
        return value.Name
    return value


class _Watcher:
    """The latest values of one machine's nodes, turned into readings when they change."""

    def __init__(self, source: OpcUaSource, machine: OpcUaMachine) -> None:
        self.source = source
        self.machine = machine
        self.values: dict[str, Any] = {}
        self.last: tuple[Any, Any] | None = None
        self.last_at: datetime | None = None

    def update(self, node_id: str, value: Any, at: datetime | None) -> None:
        self.values[node_id] = _plain(value)
        state = self.values.get(self.machine.state_node)
        hours = self.values.get(self.machine.hours_node) if self.machine.hours_node else None
        if state is None or (state, hours) == self.last:
            return
        self.last = (state, hours)
        now = utcnow()
        when = (at if at.tzinfo else at.replace(tzinfo=UTC)) if at is not None else now
        # A reading is the picture of all its nodes; one whose changed node carries an
        # older (or the same) timestamp still says more than the previous reading did.
        if self.last_at is not None and when <= self.last_at:
            when = self.last_at + timedelta(microseconds=1)
        self.last_at = when
        document: dict[str, Any] = {"at": when.isoformat(), "state": state}
        if hours is not None:
            document["available_hours"] = {week_label(monday_of(now.date())): hours}
        topic = f"{self.machine.endpoint} {self.machine.state_node}"
        try:
            reading = parse_document(document, now)
        except Rejected as error:
            self.source.stats.received += 1
            self.source.stats.reject(error.reason, topic, error)
            return
        pk = self.machine.machine_pk
        self.source.inbox.put(Received(topic, reading=reading, machine_pk=pk, source="opcua"))

    # asyncua's subscription handler
    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        at = None
        with contextlib.suppress(AttributeError):
            at = data.monitored_item.Value.SourceTimestamp
        self.update(node.nodeid.to_string(), value, at)


class OpcUaSource:
    def __init__(
        self,
        machines: Callable[[], list[OpcUaMachine]],
        inbox: queue.Queue[Received],
        stats: Stats,
        poll_s: float = POLL_S,
        reload_s: float = RELOAD_S,
    ) -> None:
        self.machines = machines
        self.inbox = inbox
        self.stats = stats
        self.poll_s = poll_s
        self.reload_s = reload_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="opcua", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        tasks: dict[OpcUaMachine, asyncio.Task[None]] = {}
        while not self._stopping.is_set():
            try:
                wanted = set(await asyncio.to_thread(self.machines))
            except Exception:
                log.exception("could not load the machines read over OPC UA")
                wanted = set(tasks)
            for machine in set(tasks) - wanted:
                tasks.pop(machine).cancel()
            for machine in wanted - set(tasks):
                tasks[machine] = asyncio.create_task(self._watch(machine))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.reload_s)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _watch(self, machine: OpcUaMachine) -> None:
        delay = RECONNECT_MIN_S
        watcher = _Watcher(self, machine)
        while True:
            try:
                async with Client(url=machine.endpoint, timeout=5) as client:
                    self.stats.connections += 1
                    delay = RECONNECT_MIN_S
                    await self._follow(client, machine, watcher)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "OPC UA %s: %s; again in %.0f s", machine.endpoint, error or type(error), delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _follow(self, client: Client, machine: OpcUaMachine, watcher: _Watcher) -> None:
        node_ids = [n for n in (machine.state_node, machine.hours_node) if n]
        nodes = [client.get_node(n) for n in node_ids]
        try:
            subscription = await client.create_subscription(PUBLISHING_INTERVAL_MS, watcher)
            await subscription.subscribe_data_change(nodes)
        except (TimeoutError, ua.UaError) as error:
            log.info("OPC UA %s: no subscription (%s); polling", machine.endpoint, error)
            while True:
                for node_id, node in zip(node_ids, nodes, strict=True):
                    value = await node.read_data_value()
                    if value.Value is not None:
                        watcher.update(node_id, value.Value.Value, value.SourceTimestamp)
                await asyncio.sleep(self.poll_s)
        while True:
            await asyncio.sleep(1)
            await client.check_connection()
