"""Fixtures of the payments tests: the orders tests' cluster of shops, and an order split
over two shops whose every hour is accepted."""

from __future__ import annotations

import pytest

from tests.orders.conftest import app, buyer, database, dispatcher, make_shop  # noqa: F401
from tests.payments.helpers import Accepted, accepted_order


@pytest.fixture
def two_shop_order(db_session, make_shop, buyer, dispatcher, database) -> Accepted:  # type: ignore[no-untyped-def]  # noqa: F811
    """30 hours split over a shop at 50.00 an hour and one at 60.00."""
    a = make_shop(hours=20, rate_minor=5000)
    b = make_shop(hours=20, rate_minor=6000)
    return accepted_order(db_session, dispatcher, database, buyer, a, b)
