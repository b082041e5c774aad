"""API of the standard formats: the profile's JSON Schema, a factory as a profile or an
Asset Administration Shell, and imports of either into a factory."""

from __future__ import annotations

import json
from typing import Literal

from flask import Response, request
from pydantic import BaseModel

from factories.profile.reader import import_profile
from factories.profile.schema import MAX_PROFILE_BYTES, FactoryProfile, profile_json_schema
from factories.profile.writer import export_profile
from marketplace import db
from marketplace.accounts.access import login_required, roles_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.api.answers import ApiAnswer
from marketplace.security.limits import takes_files
from marketplace.supply.access import load_factory, require_profile_editor
from marketplace.supply.blueprints import PROFILE, SECURITY, api
from marketplace.supply.clock import today_and_now
from marketplace.supply.formats.files import profile_file, read_profile_file
from marketplace.supply.schemas import FactoryPath


class AasQuery(BaseModel):
    format: Literal["json", "xml"] = "json"


@api.get(
    "/schemas/factory-profile.json",
    tags=[PROFILE],
    responses={
        200: {
            "description": "JSON Schema (draft 2020-12) of the factory profile",
            "content": {"application/schema+json": {"schema": {"type": "object"}}},
        }
    },
)
@shared_across_organizations()
def get_profile_schema() -> ApiAnswer:
    """JSON Schema of the standardized factory profile, generated from the code."""
    response = Response(
        json.dumps(profile_json_schema(), indent=2),
        mimetype="application/schema+json",
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@api.get(
    "/factories/<int:factory_id>/profile",
    tags=[PROFILE],
    responses={200: FactoryProfile},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_profile(path: FactoryPath) -> ApiAnswer:
    """The factory in the standardized profile (see /api/v1/schemas/factory-profile.json)."""
    factory = load_factory(path.factory_id)
    return export_profile(db.session(), factory).model_dump(mode="json")


@api.put(
    "/factories/<int:factory_id>/profile",
    tags=[PROFILE],
    responses={200: FactoryProfile},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
@takes_files(1, lambda: MAX_PROFILE_BYTES)
def put_profile(path: FactoryPath, body: FactoryProfile) -> ApiAnswer:
    """Import a profile into this factory: name, location, certifications, capabilities
    and maximum/planned hours. Status, credit and booked hours stay the marketplace's."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    today, now = today_and_now()
    import_profile(db.session(), body, factory.organization_id, today, now, into=factory)
    return export_profile(db.session(), factory).model_dump(mode="json")


@api.get(
    "/factories/<int:factory_id>/aas",
    tags=[PROFILE],
    responses={200: None},
    security=SECURITY,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def get_aas(path: FactoryPath, query: AasQuery) -> ApiAnswer:
    """The factory as an Asset Administration Shell environment (AAS JSON or XML)."""
    factory = load_factory(path.factory_id)
    body = profile_file(export_profile(db.session(), factory), f"aas-{query.format}")
    return Response(
        body,
        mimetype="application/json" if query.format == "json" else "application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="factory-{factory.id}-aas.{query.format}"'
        },
    )


@api.post(
    "/factories/<int:factory_id>/aas",
    tags=[PROFILE],
    responses={200: FactoryProfile},
    security=SECURITY,
)
@roles_required(Role.FACTORY_OWNER)
@takes_files(1, lambda: MAX_PROFILE_BYTES)
def post_aas(path: FactoryPath) -> ApiAnswer:
    """Import an AAS environment (JSON or XML body) or a profile into this factory."""
    factory = load_factory(path.factory_id, write=True)
    require_profile_editor()
    today, now = today_and_now()
    profile = read_profile_file(request.get_data())
    import_profile(db.session(), profile, factory.organization_id, today, now, into=factory)
    return export_profile(db.session(), factory).model_dump(mode="json")
