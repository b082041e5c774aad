"""A real SMTP server (aiosmtpd) on this machine and what it received: the identity
tests and the browser journeys read their confirmation links from it. Loaded for the
whole suite from tests/conftest.py."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.received = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.received:
            self.messages.append(message_from_bytes(envelope.content))
            self.received.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def body(self, message: Message) -> str:
        return message.get_payload(decode=True).decode()

    def link(self, message: Message, path: str) -> str:
        for word in self.body(message).split():
            if path in word:
                return word
        raise AssertionError(f"no link to {path} in {self.body(message)!r}")


class BoundController(Controller):
    """aiosmtpd's threaded server on a socket bound beforehand, so the port is ours from
    the start (a port found free, closed and bound again may be taken in between)."""

    def __init__(self, handler: Inbox, sock: socket.socket) -> None:
        host, port = sock.getsockname()
        # Generous: the server thread may start slowly on a busy machine.
        super().__init__(
            handler, hostname=host, port=port, loop=asyncio.new_event_loop(), ready_timeout=60
        )
        self.sock = sock

    def _create_server(self):  # type: ignore[no-untyped-def]
        return self.loop.create_server(self._factory_invoker, sock=self.sock)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        controller = BoundController(inbox, sock)
        controller.start()
        try:
            yield inbox, controller.port
        finally:
            controller.stop()
