"""Fixtures of the credit tests: the payments tests' shops and orders, a signing key of
the test's own, and an order carried from submission to delivery."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from marketplace.orders.production.service import confirm_delivery
from tests.orders.conftest import (  # noqa: F401
    app,
    buyer,
    database,
    dispatcher,
    make_shop,
    pay_order,
    principal,
)
from tests.payments.conftest import two_shop_order  # noqa: F401
from tests.payments.helpers import Accepted, ship


def key_text(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode("ascii")


@pytest.fixture
def platform_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def settings(settings, platform_key):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, credit_signing_key=key_text(platform_key))


def deliver_order(db_session, order: Accepted, jobs, db, folder: Path) -> Accepted:  # type: ignore[no-untyped-def]
    """Paid, made, shipped and the delivery confirmed by the buyer."""
    pay_order(db_session, jobs, db, order.buyer, order.id)
    ship(db_session, order, folder)
    confirm_delivery(db_session, principal(db_session, order.buyer), order.id)
    db_session.commit()
    return order


@pytest.fixture
def delivered(db_session, two_shop_order, dispatcher, database, tmp_path) -> Accepted:  # type: ignore[no-untyped-def]  # noqa: F811
    return deliver_order(db_session, two_shop_order, dispatcher, database, tmp_path)
