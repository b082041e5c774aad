"""The telemetry area's pages (under the factory's, `/supply/factories/<id>/machines`)
and its REST API."""

from __future__ import annotations

from flask import Blueprint
from flask_openapi3 import APIBlueprint, Tag

from marketplace.api.answers import SIGNED_IN
from marketplace.api.errors import ErrorBody

MACHINES = Tag(name="machines", description="A factory's machines and their live capacity")
SECURITY = SIGNED_IN

pages = Blueprint("telemetry", __name__, url_prefix="/supply")

api = APIBlueprint(
    "telemetry_api",
    __name__,
    url_prefix="/api/v1",
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody},
)
