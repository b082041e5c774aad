"""The site as an outsider meets it, in development and in production configuration:
an application per configuration, browsers that reach it at its own address (HTTPS and a
Referer in production, as a real browser sends them), and a real SMTP server."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.accounts.conftest import inbox, make_app  # noqa: F401
from tests.conftest import Browser
from tests.mail import smtp_server  # noqa: F401

# The orders area's fixtures: an application with a manual dispatcher, its database.
from tests.orders.conftest import app, buyer, database, dispatcher, make_shop  # noqa: F401

PRODUCTION_URL = "https://factoryweb.example"


@dataclass
class Site:
    name: str  # "development" or "production"
    app: Any
    base_url: str

    @property
    def production(self) -> bool:
        return self.name == "production"

    def client(self, base_url: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        client.base = base_url or self.base_url  # type: ignore[attr-defined]
        return client

    def browser(self, base_url: str | None = None) -> Browser:
        return Browser(self.client(base_url))


class SiteClient(FlaskClient):
    """Every request goes to the site's address (`base`), with the Referer a browser sends
    along (Flask-WTF checks it over HTTPS)."""

    base = "http://localhost"

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if args and isinstance(args[0], str):
            kwargs.setdefault("base_url", self.base)
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("Referer", kwargs["base_url"] + "/")
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture(params=["development", "production"])
def site(request, settings, make_app, smtp_server) -> Site:  # noqa: F811
    """The application in one configuration, its mail going to the test's inbox."""
    _, port = smtp_server
    mail = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port}
    if request.param == "production":
        app = make_app(
            dataclasses.replace(settings, env="production"), PUBLIC_URL=PRODUCTION_URL, **mail
        )
        base_url = PRODUCTION_URL
    else:
        app = make_app(dataclasses.replace(settings, env="development"), **mail)
        base_url = "http://localhost"
    app.test_client_class = SiteClient
    return Site(request.param, app, base_url)
