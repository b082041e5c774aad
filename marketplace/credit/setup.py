"""Putting the credit area into an application: its pages and API."""

from __future__ import annotations

from flask import Flask
from flask_openapi3 import APIBlueprint

from marketplace.credit.blueprints import api, pages

# isort: off
# Each module adds its routes to the area's blueprints when imported.
from marketplace.credit import views as credit_views  # noqa: F401
from marketplace.credit import api as credit_api_routes  # noqa: F401

# isort: on


def init_credit(app: Flask) -> None:
    app.register_blueprint(pages)


def credit_api() -> APIBlueprint:
    return api
