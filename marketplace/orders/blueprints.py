"""The orders area's web pages and REST API: one blueprint each, shared by the rooms
(each room's `views.py` and `api.py` add their routes), so that endpoint names and the
OpenAPI document do not depend on how the area is divided."""

from __future__ import annotations

from flask import Blueprint
from flask_openapi3 import APIBlueprint, Tag

from marketplace.api.answers import SIGNED_IN
from marketplace.api.errors import ErrorBody

ORDERS = Tag(name="orders", description="Orders and their life: post, match, deliver, rate")
PROPOSALS = Tag(name="proposals", description="Work proposed to factories: accept or decline")
RUNS = Tag(name="matching runs", description="Solver runs, their progress, problem and plan")
NOTIFY = Tag(name="notifications", description="Notifications and outgoing webhooks")
SECURITY = SIGNED_IN

pages = Blueprint("orders", __name__)

# People signed in hold every scope of their role; machine clients (OAuth2 client
# credentials of a factory) need the scope each endpoint names. Objects of other
# organizations answer 404, never 403, so their existence is not revealed.
api = APIBlueprint(
    "orders_api",
    __name__,
    url_prefix="/api/v1",
    abp_security=SECURITY,
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody},
)


class TransitionErrorBody(ErrorBody):
    state: str
    target: str
    allowed: list[str]
