"""The cluster operators' API: verify a factory, or suspend it with a reason."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from factories.models import Factory, text_limit
from factories.onboarding import suspend_factory, verify_factory
from marketplace import db
from marketplace.accounts.access import roles_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.supply.access import load_factory
from marketplace.supply.blueprints import OPERATORS, SECURITY, api
from marketplace.supply.clock import today_and_now
from marketplace.supply.presenters import factory_out
from marketplace.supply.schemas import FactoryOut, FactoryPath


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=text_limit(Factory, "status_reason"))


@api.post(
    "/factories/<int:factory_id>/verify",
    tags=[OPERATORS],
    responses={200: FactoryOut},
    security=SECURITY,
)
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def post_verify(path: FactoryPath) -> ApiAnswer:
    factory = load_factory(path.factory_id)
    verify_factory(db.session(), factory, today_and_now()[1])
    return factory_out(factory)


@api.post(
    "/factories/<int:factory_id>/suspend",
    tags=[OPERATORS],
    responses={200: FactoryOut},
    security=SECURITY,
)
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def post_suspend(path: FactoryPath, body: SuspendIn) -> ApiAnswer:
    factory = load_factory(path.factory_id)
    suspend_factory(db.session(), factory, body.reason)
    return factory_out(factory)
