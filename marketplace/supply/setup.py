"""Putting the supply area into an application: its pages and its API, with every room's
routes on them."""

from __future__ import annotations

from flask import Flask
from flask_openapi3 import APIBlueprint

from marketplace.supply.blueprints import api, pages

# Each room adds its routes to the area's two blueprints when imported, in this order:
# the order of the sections of the API document.
# isort: off
from marketplace.supply.formats import api as formats_api
from marketplace.supply.registration import api as registration_api
from marketplace.supply.certifications import api as certifications_api
from marketplace.supply.capabilities import api as capabilities_api
from marketplace.supply.capacity import api as capacity_api
from marketplace.supply.verification import api as verification_api
from marketplace.supply.search import api as search_api
from marketplace.supply.registration import views as registration_views
from marketplace.supply.certifications import views as certifications_views
from marketplace.supply.capabilities import views as capabilities_views
from marketplace.supply.capacity import views as capacity_views
from marketplace.supply.formats import views as formats_views
from marketplace.supply.verification import views as verification_views
from marketplace.supply.search import views as search_views
# isort: on

ROOMS = (
    registration_views,
    registration_api,
    certifications_views,
    certifications_api,
    capabilities_views,
    capabilities_api,
    capacity_views,
    capacity_api,
    formats_views,
    formats_api,
    verification_views,
    verification_api,
    search_views,
    search_api,
)


def init_supply(app: Flask) -> None:
    """The area's pages (its API goes in with the others': `supply_api`)."""
    app.register_blueprint(pages)


def supply_api() -> APIBlueprint:
    """The area's REST API, with every room's routes on it."""
    return api
