"""The credit area's pages and REST API (one blueprint each)."""

from __future__ import annotations

from flask import Blueprint
from flask_openapi3 import APIBlueprint, Tag

from marketplace.api.errors import ErrorBody

CREDIT = Tag(name="credit", description="Credit scores, their breakdown, signed credit reports")

# Beside the factory's own pages (/supply/factories/ID).
pages = Blueprint("credit", __name__, url_prefix="/supply")
api = APIBlueprint(
    "credit_api",
    __name__,
    url_prefix="/api/v1",
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody},
)
