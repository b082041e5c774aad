"""Putting the telemetry area into an application: its pages and its API."""

from __future__ import annotations

from flask import Flask
from flask_openapi3 import APIBlueprint

from marketplace.telemetry.blueprints import api, pages

# isort: off
from marketplace.telemetry import api as machines_api  # noqa: F401
from marketplace.telemetry import views as machines_views  # noqa: F401

# isort: on


def init_telemetry(app: Flask) -> None:
    app.register_blueprint(pages)


def telemetry_api() -> APIBlueprint:
    return api
