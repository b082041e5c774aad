"""Real services for the identity tests: an SMTP server, an OpenID Connect provider and
applications built with the settings a test needs (production cookies, rate limits)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import warnings
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
import requests
import werkzeug.serving
from aiosmtpd.controller import Controller

from marketplace.app import create_app
from marketplace.db import Database
from tests.conftest import Browser, savepoint_sessions

# Mail --------------------------------------------------------------------------------


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


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int]) -> Inbox:
    inbox, _ = smtp_server
    inbox.messages.clear()
    return inbox


# OpenID Connect provider -------------------------------------------------------------


@dataclasses.dataclass
class Provider:
    issuer: str

    def set_user(self, sub: str, **claims: object) -> None:
        response = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def authorize(self, authorize_url: str, sub: str) -> str:
        """The person picks their account at the provider; returns where it sends them."""
        response = requests.post(
            authorize_url, data={"sub": sub}, allow_redirects=False, timeout=10
        )
        assert response.status_code == 302, response.text
        return response.headers["Location"]


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    with warnings.catch_warnings():
        # The provider is test equipment; its use of deprecated Authlib APIs is not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        from oidc_provider_mock import app as provider_app

    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, provider_app(require_nonce=True), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# Applications with particular settings ----------------------------------------------


@pytest.fixture
def make_app(settings, engine, connection):  # type: ignore[no-untyped-def]
    """make_app(settings=None, **config): an app on the test's transaction."""

    def make(settings_override=None, **config):  # type: ignore[no-untyped-def]
        database = Database(engine, savepoint_sessions(connection))
        config.setdefault("TESTING", True)
        return create_app(settings_override or settings, database=database, **config)

    return make


@pytest.fixture
def browser_for():  # type: ignore[no-untyped-def]
    return lambda app: Browser(app.test_client())
