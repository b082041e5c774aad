"""Real services for the identity tests: an SMTP server, an OpenID Connect provider and
applications built with the settings a test needs (production cookies, rate limits)."""

from __future__ import annotations

import dataclasses
import threading
import warnings
from collections.abc import Iterator

import pytest
import requests
import werkzeug.serving

from marketplace.app import create_app
from marketplace.db import Database
from tests.conftest import Browser, savepoint_sessions
from tests.mail import Inbox

# Mail: the SMTP server is tests.mail's (shared with the browser journeys) -----------


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
