"""API of a factory's certifications: add one, remove one (they are read with the factory)."""

from __future__ import annotations

from pydantic import BaseModel

from factories.models import id_of
from factories.onboarding import add_certification, remove_certification
from marketplace import db
from marketplace.accounts.access import roles_required
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.supply.access import load_certification, load_factory, require_profile_editor
from marketplace.supply.blueprints import FACTORIES, SECURITY, api
from marketplace.supply.clock import today_and_now
from marketplace.supply.presenters import certification_out, certification_state
from marketplace.supply.schemas import CertificationIn, CertificationOut, FactoryPath


class CertificationPath(BaseModel):
    factory_id: int
    certification_id: int


@api.post(
    "/factories/<int:factory_id>/certifications",
    tags=[FACTORIES],
    responses={201: CertificationOut},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def post_certification(path: FactoryPath, body: CertificationIn) -> ApiAnswer:
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    certification = add_certification(db.session(), factory, body.details())
    state = certification_state(certification, today_and_now()[0])
    return certification_out(state).model_dump(mode="json"), 201


@api.delete(
    "/factories/<int:factory_id>/certifications/<int:certification_id>",
    tags=[FACTORIES],
    responses={204: None},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
def delete_certification(path: CertificationPath) -> ApiAnswer:
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    certification = load_certification(factory, path.certification_id)
    remove_certification(db.session(), factory, id_of(certification))
    return "", 204
