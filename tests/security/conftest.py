"""The orders area's fixtures (an application with a manual dispatcher, its database)."""

from tests.orders.conftest import app, buyer, database, dispatcher, make_shop  # noqa: F401
