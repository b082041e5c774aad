"""Fixtures for a real browser (Debian's Chromium driven by Playwright) against a live server.

Loaded for the whole suite from tests/conftest.py, so that one Playwright instance serves
every directory (a second one cannot start while the first one's event loop runs).

The live server runs in a thread on its own database with committed data, because a
browser's requests come from other connections than the test's savepoint.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from werkzeug.serving import make_server

from marketplace.app import create_app
from marketplace.config import Settings
from marketplace.db import Database
from marketplace.migrate import scratch_database
from tests.conftest import IN_CI, TEST_DATABASE_URL, require_postgresql

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium_browser():  # type: ignore[no-untyped-def]
    if shutil.which(CHROMIUM) is None:
        message = (
            f"Chromium not found at {CHROMIUM}: run `make test` as root, or "
            "`sudo apt-get install chromium fonts-noto-cjk`"
        )
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_database_url() -> Iterator[str]:
    require_postgresql()
    with scratch_database(TEST_DATABASE_URL, "factoryweb_live") as url:
        yield url


@pytest.fixture(scope="session")
def live_database(live_database_url: str) -> Iterator[Database]:
    database = Database.from_url(live_database_url)
    yield database
    database.engine.dispose()


@contextmanager
def serve(live_database: Database, **config: object) -> Iterator[str]:
    """Serve the app from a thread on the emptied live database; yields its base URL.
    `config` adds application config keys (SMTP_HOST for a journey that reads its mail)."""
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with live_database.engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    settings = Settings(
        env="testing",
        database_url=live_database.engine.url.render_as_string(False),
        secret_key="live-test-secret",
        celery_broker_url=None,
        stripe_api_key=None,
        stripe_api_base=None,
        stripe_webhook_secret=None,
    )
    app = create_app(settings, database=live_database, **config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        # Work the pages started in the background ends before the next test empties
        # the database under it.
        dispatcher = app.extensions["factoryweb.orders.dispatcher"]
        # Its housekeeping (started by the first request) would outlive the database.
        if hasattr(dispatcher, "stop_housekeeping"):
            assert dispatcher.stop_housekeeping(timeout=60), "housekeeping still running"
        if hasattr(dispatcher, "join"):
            assert dispatcher.join(timeout=120), "background work still running after 120 s"


@pytest.fixture
def live_server(live_database: Database) -> Iterator[str]:
    """Base URL of the app served from a thread, on an emptied database."""
    with serve(live_database) as url:
        yield url


@pytest.fixture
def page(chromium_browser, live_server):  # type: ignore[no-untyped-def]
    # Depends on live_server so that the page closes before the server stops.
    context = chromium_browser.new_context(locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"
