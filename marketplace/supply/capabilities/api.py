"""API of a factory's capabilities: list, add, read, change, remove."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from factories.capability import (
    CapabilityDetails,
    capabilities_of,
    check_capability,
    create_capability,
    delete_capability,
    materials_of,
    minor_units,
    update_capability,
)
from factories.errors import FactoryError
from factories.models import Capability, Factory, id_of
from marketplace import db
from marketplace.accounts.access import login_required, roles_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.supply.access import load_capability, load_factory, require_profile_editor
from marketplace.supply.blueprints import FACTORIES, SECURITY, api
from marketplace.supply.clock import today_and_now
from marketplace.supply.presenters import capability_out
from marketplace.supply.schemas import CapabilityOut, FactoryPath


class CapabilityPath(BaseModel):
    factory_id: int
    capability_id: int


class CapabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    process_code: str
    materials: list[str] = Field(max_length=50)
    tolerance_class: str
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int = 1
    batch_max: int = 1_000_000
    hourly_rate: Decimal = Field(description="per hour, in major units (85.50 EUR)")
    currency: str = Field(default="EUR", max_length=3)

    def details(self) -> CapabilityDetails:
        """Our details from the request; a rate the currency cannot hold is reported
        together with every other problem of the capability."""
        try:
            rate = minor_units(self.hourly_rate, self.currency.strip().upper())
            rate_problem = None
        except ValueError as error:
            rate, rate_problem = 0, ("hourly_rate", str(error))
        details = CapabilityDetails(
            process_code=self.process_code,
            materials=tuple(self.materials),
            tolerance_class=self.tolerance_class,
            max_length_mm=self.max_length_mm,
            max_width_mm=self.max_width_mm,
            max_height_mm=self.max_height_mm,
            batch_min=self.batch_min,
            batch_max=self.batch_max,
            hourly_rate_minor=rate,
            currency=self.currency,
        )
        if rate_problem is not None:
            others = [
                p for p in check_capability(details.normalized()).items if p[0] != "hourly_rate"
            ]
            raise FactoryError(*rate_problem, [rate_problem, *others])
        return details


class CapabilityList(BaseModel):
    capabilities: list[CapabilityOut]


def _load(path: CapabilityPath, *, write: bool) -> tuple[Factory, Capability]:
    factory = load_factory(path.factory_id, write=write)
    return factory, load_capability(factory, path.capability_id)


def _shown(capability: Capability) -> CapabilityOut:
    return capability_out(capability, materials_of(db.session(), id_of(capability)))


@api.get(
    "/factories/<int:factory_id>/capabilities",
    tags=[FACTORIES],
    responses={200: CapabilityList},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_capabilities(path: FactoryPath) -> ApiAnswer:
    factory = load_factory(path.factory_id)
    return {
        "capabilities": [
            capability_out(v.capability, v.materials).model_dump()
            for v in capabilities_of(db.session(), id_of(factory))
        ]
    }


@api.post(
    "/factories/<int:factory_id>/capabilities",
    tags=[FACTORIES],
    responses={201: CapabilityOut},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def post_capability(path: FactoryPath, body: CapabilityIn) -> ApiAnswer:
    """Add a capability: process from the taxonomy, materials it can work, envelope,
    tolerance, batch limits, hourly rate. All fields are checked before anything is saved."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    capability = create_capability(db.session(), factory, body.details())
    return _shown(capability).model_dump(), 201


@api.get(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>",
    tags=[FACTORIES],
    responses={200: CapabilityOut},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_capability(path: CapabilityPath) -> ApiAnswer:
    _, capability = _load(path, write=False)
    return _shown(capability).model_dump()


@api.put(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>",
    tags=[FACTORIES],
    responses={200: CapabilityOut},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def put_capability(path: CapabilityPath, body: CapabilityIn) -> ApiAnswer:
    _, capability = _load(path, write=True)
    require_profile_editor()
    update_capability(db.session(), capability, body.details())
    return _shown(capability).model_dump()


@api.delete(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>",
    tags=[FACTORIES],
    responses={204: None},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def delete_capability_api(path: CapabilityPath) -> ApiAnswer:
    _, capability = _load(path, write=True)
    require_profile_editor()
    delete_capability(db.session(), capability, today_and_now()[0])
    return "", 204
