"""Which worker reads which OPC UA endpoint: each endpoint by one worker at a time.

A worker holds an endpoint by a PostgreSQL session-level advisory lock, taken on a
connection of its own that stays open while the worker runs. The database lets go of
the lock when that connection ends, however the worker ends (stopped, killed, its
machine gone), and another worker takes the endpoint at its next look at the
registrations (every minute). Which worker gets an endpoint is first come, first
served. On SQLite (development, one worker) every endpoint is this worker's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection

import sqlalchemy as sa

log = logging.getLogger("factoryweb.telemetry")

_TRY = sa.text("SELECT pg_try_advisory_lock(:key)")
_RELEASE = sa.text("SELECT pg_advisory_unlock(:key)")


def endpoint_key(endpoint: str) -> int:
    """A stable 64-bit advisory lock key for an endpoint."""
    digest = hashlib.blake2b(
        f"factoryweb.telemetry.opcua:{endpoint}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


class EndpointLeases:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.connection: sa.Connection | None = None
        self.held: set[str] = set()

    def claim(self, endpoints: Collection[str]) -> set[str]:
        """Of `endpoints`, those this worker reads now: the ones it held and still wants,
        and those no other worker holds. Endpoints no longer wanted are let go."""
        if self.engine.dialect.name != "postgresql":
            return set(endpoints)
        wanted = set(endpoints)
        try:
            connection = self._connection()
            # A connection that broke took its locks with it: start again from nothing.
            connection.execute(sa.text("SELECT 1"))
            for endpoint in sorted(self.held - wanted):
                connection.execute(_RELEASE, {"key": endpoint_key(endpoint)})
                self.held.discard(endpoint)
            for endpoint in sorted(wanted - self.held):
                if connection.execute(_TRY, {"key": endpoint_key(endpoint)}).scalar():
                    self.held.add(endpoint)
        except sa.exc.DBAPIError:
            log.exception("could not hold OPC UA endpoints; reading none until it can")
            self.release()
            return set()
        return set(self.held)

    def release(self) -> None:
        """Let go of every endpoint (the connection's end releases its locks)."""
        if self.connection is not None:
            try:
                # Closed for good, not handed back to the pool with the locks still on it.
                self.connection.invalidate()
                self.connection.close()
            except sa.exc.DBAPIError:
                log.warning("closing the leases' connection failed", exc_info=True)
            self.connection = None
        self.held = set()

    def _connection(self) -> sa.Connection:
        if self.connection is None or self.connection.closed or self.connection.invalidated:
            self.release()
            self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.connection
