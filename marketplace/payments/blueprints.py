"""The payments area's pages and REST API (one blueprint each)."""

from __future__ import annotations

from flask import Blueprint
from flask_openapi3 import APIBlueprint, Tag

from marketplace.api.answers import SIGNED_IN
from marketplace.api.errors import ErrorBody

PAYMENTS = Tag(name="payments", description="The buyer's payment, refunds, factories' payouts")
SECURITY = SIGNED_IN

pages = Blueprint("payments", __name__)
api = APIBlueprint(
    "payments_api",
    __name__,
    url_prefix="/api/v1",
    abp_security=SECURITY,
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody},
)
