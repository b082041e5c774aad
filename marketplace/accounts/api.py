"""Account endpoints of the REST API."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag
from flask_wtf.csrf import generate_csrf
from pydantic import BaseModel

from marketplace.accounts.access import login_required, require_principal
from marketplace.api.answers import SIGNED_IN, ApiAnswer
from marketplace.api.errors import ErrorBody

ACCOUNTS = Tag(name="accounts", description="Who is calling")
api = APIBlueprint("accounts_api", __name__, url_prefix="/api/v1")


class Me(BaseModel):
    user_id: int | None
    client_id: str | None
    organization_id: int
    organization_kind: str
    role: str
    scopes: list[str] | None
    csrf_token: str | None


@api.get(
    "/me",
    tags=[ACCOUNTS],
    responses={200: Me, 401: ErrorBody},
    security=SIGNED_IN,
)
@login_required
def get_me() -> ApiAnswer:
    """The caller's identity; browser clients also get the CSRF token for write calls."""
    principal = require_principal()
    return Me(
        user_id=principal.user_id,
        client_id=principal.client_id,
        organization_id=principal.organization_id,
        organization_kind=principal.organization_kind.value,
        role=principal.role.value,
        scopes=sorted(principal.scopes) if principal.scopes is not None else None,
        csrf_token=generate_csrf() if principal.user_id is not None else None,
    ).model_dump()
