"""The supply area's web pages and REST API: one blueprint each, shared by the rooms (each
room's `views.py` and `api.py` add their routes when imported, see `setup.py`), so that
endpoint names (`supply.capacity`, `supply_api.get_profile_schema`) and the OpenAPI
document do not depend on how the area is divided."""

from __future__ import annotations

from flask import Blueprint
from flask_openapi3 import APIBlueprint, Tag

from marketplace.api.answers import SIGNED_IN
from marketplace.api.errors import ErrorBody

FACTORIES = Tag(name="factories", description="Factories, certifications and capabilities")
CAPACITY = Tag(name="capacity", description="The capacity calendar (Catena-X DCM field names)")
PROFILE = Tag(name="profile", description="Standardized profile and Asset Administration Shell")
SEARCH = Tag(name="search", description="Buyer search over verified factories")
OPERATORS = Tag(name="operators", description="Verification by cluster operators")
SECURITY = SIGNED_IN

pages = Blueprint("supply", __name__, url_prefix="/supply")

# Input errors, missing objects and conflicts raised by the services reach the app-wide
# handlers of `marketplace.api.errors`, which answer with the ErrorBody documented here.
api = APIBlueprint(
    "supply_api",
    __name__,
    url_prefix="/api/v1",
    abp_responses={401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody},
)
