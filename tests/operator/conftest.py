"""A small demo cluster for the operator's pages, services and commands."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from factories.capacity.weeks import monday_of
from factories.models import utcnow
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.orders.conftest import buyer, dispatcher, make_shop  # noqa: F401
from tests.payments.conftest import localstripe  # noqa: F401


@pytest.fixture
def cluster(db_session: Session) -> Session:
    seed_marketplace(
        db_session,
        DemoSpec(factories=30, orders=60, weeks=8, start=monday_of(utcnow().date()), logins=False),
    )
    db_session.commit()
    return db_session
