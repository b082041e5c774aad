"""Fixtures of the payments tests: the orders tests' cluster of shops, and an order split
over two shops whose every hour is accepted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from marketplace.app import create_app
from marketplace.db import Database
from tests.conftest import savepoint_sessions
from tests.orders.conftest import (  # noqa: F401
    app,
    buyer,
    committed,
    committed_app,
    committed_url,
    database,
    dispatcher,
    make_shop,
)
from tests.payments.helpers import Accepted, accepted_order
from tests.payments.stripe_servers import API_KEY, WEBHOOK_SECRET, LocalStripe


@pytest.fixture
def two_shop_order(db_session, make_shop, buyer, dispatcher, database) -> Accepted:  # type: ignore[no-untyped-def]  # noqa: F811
    """30 hours split over a shop at 50.00 an hour and one at 60.00."""
    a = make_shop(hours=20, rate_minor=5000)
    b = make_shop(hours=20, rate_minor=6000)
    return accepted_order(db_session, dispatcher, database, buyer, a, b)


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """localstripe on 127.0.0.1, for the whole run."""
    server = LocalStripe()
    yield server
    server.stop()


def stripe_app(settings, engine, connection, tmp_path, api_base: str):  # type: ignore[no-untyped-def]
    """The application with the Stripe gateway pointed at `api_base`."""
    return create_app(
        replace(
            settings,
            stripe_api_key=API_KEY,
            stripe_api_base=api_base,
            stripe_webhook_secret=WEBHOOK_SECRET,
        ),
        database=Database(engine, savepoint_sessions(connection)),
        TESTING=True,
        ORDERS_RUNNER="manual",
        ORDERS_UPLOAD_FOLDER=str(tmp_path / "uploads"),
        STRIPE_PUBLISHABLE_KEY="pk_test_factoryweb",
    )
