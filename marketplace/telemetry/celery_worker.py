"""Telemetry ingestion next to the Celery workers: a Celery worker started with
`--telemetry` runs `factoryweb telemetry run` beside itself and keeps it running.

    celery --app marketplace.tasks worker --telemetry

The ingestion runs as a process of its own (its CPU is not the Celery consumer's, and
nothing is forked with its threads and connections): started once the worker's pool is
up, started again with a growing delay (1 s, doubling up to 30 s) whenever it ends, and
stopped with the worker (SIGTERM: the batch in hand is still taken). It reads the
worker's environment: `DATABASE_URL`, `MQTT_URL`, `MQTT_SHARE_GROUP`. Any number of
workers may run it: they share the MQTT stream and the OPC UA endpoints
(docs/telemetry.md, "The worker").
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

import click
from celery import bootsteps

log = logging.getLogger("factoryweb.telemetry")

RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STOP_WAIT_S = 30.0
# A run that lasted this long was healthy: the next restart starts from the shortest delay.
HEALTHY_RUN_S = 60.0

TELEMETRY_OPTION = click.Option(
    ["--telemetry"],
    is_flag=True,
    default=False,
    help="Also run machine telemetry ingestion (factoryweb telemetry run) beside this worker.",
)


# The ingestion stops by itself when the worker that started it is gone (even killed).
PARENT_ENV = "FACTORYWEB_TELEMETRY_PARENT"


def ingestion_command() -> list[str]:
    return [sys.executable, "-m", "marketplace.cli", "telemetry", "run"]


class Supervisor:
    """Keeps one ingestion process running until stopped."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="telemetry-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                log.warning("telemetry ingestion did not stop in %.0f s; killed", STOP_WAIT_S)
                process.kill()
                process.wait()
        self._thread.join(STOP_WAIT_S)

    def _run(self) -> None:
        delay = RESTART_MIN_S
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                environment = {**os.environ, PARENT_ENV: str(os.getpid())}
                self.process = subprocess.Popen(self.command, env=environment)
                self.starts += 1
            started = time.monotonic()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > HEALTHY_RUN_S:
                delay = RESTART_MIN_S
            log.warning("telemetry ingestion ended (exit %s); again in %.0f s", code, delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, RESTART_MAX_S)


class TelemetryStep(bootsteps.StartStopStep):
    """The worker's part: on with `--telemetry`, after the pool started."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, telemetry: bool = False, **options: Any) -> None:
        super().__init__(parent, **options)
        self.enabled = telemetry
        self.supervisor: Supervisor | None = None

    def start(self, parent: Any) -> None:
        self.supervisor = Supervisor(ingestion_command())
        self.supervisor.start()
        log.info("telemetry ingestion started beside this worker")

    def stop(self, parent: Any) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
