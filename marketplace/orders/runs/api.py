"""Matching runs in the REST API: start one for an order, follow its progress, download
its problem and plan."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from factories.errors import NotFound
from marketplace import db
from marketplace.accounts.access import require_principal, scope_required
from marketplace.api.answers import ApiAnswer
from marketplace.orders import access, presenters
from marketplace.orders.blueprints import RUNS, TransitionErrorBody, api
from marketplace.orders.runs.service import request_matching
from marketplace.orders.schemas import OrderPath, RunOut, RunPath
from marketplace.orders.settings import current_settings


class MatchIn(BaseModel):
    time_limit_s: float | None = Field(None, description="0.5 to 60 seconds")

    @model_validator(mode="before")
    @classmethod
    def no_body_is_defaults(cls, data: Any) -> Any:
        # Every field is optional, so a POST without a body asks for the defaults.
        return {} if data is None else data


@api.post(
    "/orders/<int:order_id>/match", tags=[RUNS], responses={202: RunOut, 409: TransitionErrorBody}
)
@scope_required("orders:write")
def match_order(path: OrderPath, body: MatchIn) -> ApiAnswer:
    """Start a matching run; poll GET /match-runs/{run_id} for its progress."""
    session, principal = db.session(), require_principal()
    limit = body.time_limit_s or current_settings()["MATCH_TIME_LIMIT_S"]
    run = request_matching(session, principal, path.order_id, limit)
    return presenters.run_out(run), 202


@api.get("/match-runs/<int:run_id>", tags=[RUNS], responses={200: RunOut})
@scope_required("orders:read")
def get_run(path: RunPath) -> ApiAnswer:
    """State and live progress (best fill and cost so far, seconds used)."""
    session, principal = db.session(), require_principal()
    return presenters.run_out(access.run_for(session, principal, path.run_id))


@api.get("/match-runs/<int:run_id>/problem", tags=[RUNS])
@scope_required("orders:read")
def get_run_problem(path: RunPath) -> ApiAnswer:
    """The contract-v1 problem, for `factoryweb match`."""
    session, principal = db.session(), require_principal()
    return access.run_for(session, principal, path.run_id).problem


@api.get("/match-runs/<int:run_id>/plan", tags=[RUNS])
@scope_required("orders:read")
def get_run_plan(path: RunPath) -> ApiAnswer:
    session, principal = db.session(), require_principal()
    plan = access.run_for(session, principal, path.run_id).plan
    if plan is None:
        raise NotFound("plan")
    return plan
