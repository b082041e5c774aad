"""API of a factory itself: register it, list the caller's factories, read and change it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from factories.models import Factory, text_limit
from factories.onboarding import FactoryDetails, factories_of, register_factory, update_factory
from marketplace import db
from marketplace.accounts.access import (
    login_required,
    require_principal,
    roles_required,
    shared_across_organizations,
)
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.supply.access import load_factory, require_profile_editor
from marketplace.supply.blueprints import FACTORIES, SECURITY, api
from marketplace.supply.presenters import factory_out
from marketplace.supply.schemas import CertificationIn, FactoryOut, FactoryPath


class FactoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=text_limit(Factory, "name"))
    country: str = Field(description="ISO 3166-1 alpha-2", max_length=2)
    region: str = Field(max_length=text_limit(Factory, "region"))
    city: str = Field(default="", max_length=text_limit(Factory, "city"))
    latitude: float
    longitude: float

    def details(self) -> FactoryDetails:
        return FactoryDetails(
            name=self.name,
            country=self.country,
            region=self.region,
            city=self.city,
            latitude=self.latitude,
            longitude=self.longitude,
        )


class RegistrationIn(FactoryIn):
    certifications: list[CertificationIn] = Field(default_factory=list, max_length=50)


class FactoryList(BaseModel):
    factories: list[FactoryOut]


@api.post("/factories", tags=[FACTORIES], responses={201: FactoryOut}, security=SECURITY)
@roles_required(Role.FACTORY_OWNER)
def post_factory(body: RegistrationIn) -> ApiAnswer:
    """Register a factory of the caller's organization; it starts `pending`."""
    require_profile_editor()
    principal = require_principal()
    factory = register_factory(
        db.session(),
        principal.organization_id,
        body.details(),
        [c.details() for c in body.certifications],
    )
    return factory_out(factory), 201


@api.get("/factories/mine", tags=[FACTORIES], responses={200: FactoryList}, security=SECURITY)
@login_required
def get_my_factories() -> ApiAnswer:
    """The factories of the caller's organization."""
    principal = require_principal()
    if not principal.is_factory:
        return FactoryList(factories=[]).model_dump()
    return {
        "factories": [factory_out(f) for f in factories_of(db.session(), principal.organization_id)]
    }


@api.get(
    "/factories/<int:factory_id>", tags=[FACTORIES], responses={200: FactoryOut}, security=SECURITY
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_factory(path: FactoryPath) -> ApiAnswer:
    """A factory of the caller's organization (operators: any), with status, certifications
    (flagged when expired) and capabilities."""
    return factory_out(load_factory(path.factory_id))


@api.put(
    "/factories/<int:factory_id>", tags=[FACTORIES], responses={200: FactoryOut}, security=SECURITY
)
@roles_required(Role.FACTORY_OWNER)
def put_factory(path: FactoryPath, body: FactoryIn) -> ApiAnswer:
    """Change name and location."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    update_factory(db.session(), factory, body.details())
    return factory_out(factory)
