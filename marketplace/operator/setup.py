"""Putting the operator's area into an application: its pages."""

from __future__ import annotations

from flask import Flask

from marketplace.operator.blueprints import pages
from marketplace.operator.network import reports
from marketplace.orders import outbox

# isort: off
# Each module adds its routes to the area's blueprint when imported.
from marketplace.operator import assets, presenters  # noqa: F401
from marketplace.operator.dashboard import views as dashboard_views  # noqa: F401
from marketplace.operator.network import views as network_views  # noqa: F401
from marketplace.operator.whatif import views as whatif_views  # noqa: F401

# isort: on


def init_operator(app: Flask) -> None:
    app.register_blueprint(pages)
    # Without Celery, the web process's housekeeping keeps the network report fresh.
    app.extensions[outbox.EXTENSION_KEY].add_sweep(reports.sweep)
