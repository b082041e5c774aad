"""MQTT in (paho-mqtt): subscribe to every machine's state topic and hand each message,
as it arrives, to the worker's queue. The broker's address is `MQTT_URL`
(`mqtt://[user:password@]host[:port]`, `mqtts://` for TLS; docs/telemetry.md).

The client reconnects by itself with a growing delay (1 s up to 30 s), also when the
broker is not there at the start, and subscribes again after every connection.

Several workers share the stream through a shared subscription
(`$share/<group>/factoryweb/v1/factories/+/machines/+/state`, MQTT 5 and, in Mosquitto
2, MQTT 3.1.1 as well): the broker hands each message to one worker of the group. Without
a group every worker gets every message.
"""

from __future__ import annotations

import logging
import queue
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from factories.telemetry.ingest import Received, Stats
from factories.telemetry.messages import SUBSCRIPTION

log = logging.getLogger("factoryweb.telemetry")

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_SHARE_GROUP = "factoryweb"
_GROUP_FORBIDDEN = frozenset("/+#")


def subscription_for(group: str | None) -> str:
    """The topic filter a worker of `group` subscribes to ("" or None: not shared)."""
    if not group:
        return SUBSCRIPTION
    if _GROUP_FORBIDDEN & set(group) or not group.isprintable():
        raise ValueError(f"MQTT_SHARE_GROUP must not contain /, + or #, not {group!r}")
    return f"$share/{group}/{SUBSCRIPTION}"


RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


# What one read takes from the socket at most.
RECEIVE_BUFFER = 256 * 1024


class BufferedClient(mqtt.Client):
    """A paho client that reads what the socket holds in one call.

    paho reads a packet a few bytes at a time (one system call each) and takes one
    packet per turn of its loop. At thousands of messages a second, those calls, and
    handing the interpreter lock back and forth with the thread that writes to the
    database, cost more than the rest of ingestion; the broker then drops what the
    worker does not read in time. This client serves paho's small reads from a buffer
    filled by one large read, and takes every whole packet already read before the loop
    waits again. It hooks paho 2's `_sock_recv`, `_sock_close` and `loop_read`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._received = bytearray()
        super().__init__(*args, **kwargs)

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._received:
            data = super()._sock_recv(RECEIVE_BUFFER)
            if not data:  # the broker closed the connection: paho sees it as before
                return data
            self._received += data
        chunk = bytes(self._received[:bufsize])
        del self._received[:bufsize]
        return chunk

    def _sock_close(self) -> None:
        self._received.clear()
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._received:
            rc = super().loop_read(1)
        return rc


class MqttSource:
    """The subscription, on paho's own network thread."""

    def __init__(
        self,
        url: str,
        inbox: queue.Queue[Received],
        stats: Stats,
        client_id: str | None = None,
        group: str | None = DEFAULT_SHARE_GROUP,
    ) -> None:
        self.subscription = subscription_for(group)
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"MQTT_URL must look like mqtt://host:port, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.inbox = inbox
        self.stats = stats
        # A fixed client id keeps the broker's session (and QoS 1 messages queued while the
        # worker was away); without one, every start is a clean session.
        persistent = client_id is not None
        self.client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"factoryweb-telemetry-{uuid.uuid4().hex[:12]}",
            clean_session=not persistent,
        )
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_message = self._message
        self.connected = False

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.connected = False
        self.client.disconnect()
        self.client.loop_stop()
        # paho closes the socket pair that wakes its loop only when the client is
        # collected; a worker stopped and started in one process closes it now.
        for name in ("_sockpairR", "_sockpairW"):
            wake = getattr(self.client, name, None)
            if wake is not None:
                wake.close()
                setattr(self.client, name, None)

    def _connected(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        self.connected = True
        self.stats.connections += 1
        client.subscribe(self.subscription, qos=1)
        log.info(
            "connected to MQTT broker %s:%s, subscribed to %s",
            self.host,
            self.port,
            self.subscription,
        )

    def _disconnected(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self.connected:
            log.warning("MQTT %s:%s went away (%s); reconnecting", self.host, self.port, reason)
        self.connected = False

    def _message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.inbox.put(Received(topic=message.topic, payload=bytes(message.payload)))
