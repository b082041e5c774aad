"""Telemetry ingestion next to the Celery workers: a Celery worker started with
`--telemetry` runs `factoryweb telemetry run` beside itself and keeps it running.

    celery --app marketplace.tasks worker --telemetry

The ingestion runs as processes of their own (their CPU is not the Celery consumer's,
and nothing is forked with their threads and connections), `TELEMETRY_PROCESSES` of them
(default 2: while one waits for its commit, the other takes the next batch): started
once the worker's pool is up, each started again with a growing delay (1 s, doubling up
to 30 s) whenever it ends, and stopped with the worker (SIGTERM: the batch in hand is
still taken). They read the worker's environment: `DATABASE_URL`, `MQTT_URL`,
`MQTT_SHARE_GROUP`. Any number of workers may run them: all share the MQTT stream and
the OPC UA endpoints (docs/telemetry.md, "The worker").
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
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
PROCESSES_ENV = "TELEMETRY_PROCESSES"
DEFAULT_PROCESSES = 2


def ingestion_processes(environ: Mapping[str, str] = os.environ) -> int:
    """How many ingestion processes a worker runs (`TELEMETRY_PROCESSES`, at least 1)."""
    value = environ.get(PROCESSES_ENV, "").strip()
    if not value:
        return DEFAULT_PROCESSES
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{PROCESSES_ENV} must be a whole number, not {value!r}") from None
    if count < 1:
        raise ValueError(f"{PROCESSES_ENV} must be at least 1, not {count}")
    return count


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

    def terminate(self) -> None:
        """Tell the process to stop, and not to start it again."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()

    def stop(self) -> None:
        """Stop the process (killed if it has not ended in 30 s) and the supervision."""
        self.terminate()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
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
        self.count = ingestion_processes() if telemetry else 0
        self.supervisors: list[Supervisor] = []

    def start(self, parent: Any) -> None:
        self.supervisors = [Supervisor(ingestion_command()) for _ in range(self.count)]
        for supervisor in self.supervisors:
            supervisor.start()
        log.info("telemetry ingestion started beside this worker (%d processes)", self.count)

    def stop(self, parent: Any) -> None:
        # All are told at once; each then finishes the batch in hand.
        for supervisor in self.supervisors:
            supervisor.terminate()
        for supervisor in self.supervisors:
            supervisor.stop()
        self.supervisors = []

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
