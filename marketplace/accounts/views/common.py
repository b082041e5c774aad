"""What the account pages share: their blueprint and the handling of mailed links."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    make_response,
    render_template,
    url_for,
)

from marketplace.accounts.models import (
    Organization,
    OrganizationKind,
)

blueprint = Blueprint("accounts", __name__)

# A link's secret is never longer than this; anything longer names no link.
MAX_LINK_SECRET = 100
# Problems of a mailed link itself, shown above its page's form.
LINK_PROBLEMS = {"token": "", "email": ""}


def form_status(form) -> int:
    return 400 if form.errors else 200


def private(response):
    """A page whose URL carries a link's secret: sent to no other site, kept in no cache."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def link_expired(advice: str, action: str, label: str):
    page = render_template("accounts/link_expired.html", advice=advice, action=action, label=label)
    return private(make_response(page, 404))


def landing_after_signup(organization: Organization) -> str:
    if (
        organization.kind == OrganizationKind.FACTORY
        and "supply.onboarding" in current_app.view_functions
    ):
        return url_for("supply.onboarding")
    return url_for("web.home")
