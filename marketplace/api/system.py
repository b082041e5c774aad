"""The API's own endpoints: its OpenAPI document, the taxonomy, the health check."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_openapi3 import APIBlueprint, OpenAPI, Tag
from pydantic import BaseModel

from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES, TOLERANCE_CLASSES
from marketplace import db
from marketplace.api.answers import ApiAnswer
from marketplace.api.errors import ErrorBody

document = Blueprint("api", __name__)
v1 = APIBlueprint("api_v1", __name__, url_prefix="/api/v1", abp_responses={422: ErrorBody})

TAXONOMY = Tag(name="taxonomy", description="Process codes, materials and certifications")


@document.get("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    app = cast(OpenAPI, current_app)  # create_app builds an OpenAPI application
    return jsonify(app.api_doc)


class ProcessOut(BaseModel):
    code: str
    din8580_group: str
    din8580_iri: str
    labels: dict[str, str]
    generalizes: list[str]


class MaterialOut(BaseModel):
    code: str
    kind: str
    labels: dict[str, str]


class CertificationTypeOut(BaseModel):
    code: str
    labels: dict[str, str]


class Taxonomy(BaseModel):
    processes: list[ProcessOut]
    materials: list[MaterialOut]
    certifications: list[CertificationTypeOut]
    tolerance_classes: list[str]


@v1.get("/taxonomy", tags=[TAXONOMY], responses={200: Taxonomy})
def get_taxonomy() -> ApiAnswer:
    """The controlled vocabularies that profiles, orders and problems use."""
    taxonomy = Taxonomy(
        processes=[
            ProcessOut(
                code=p.code,
                din8580_group=p.group.value,
                din8580_iri=p.group.iri,
                labels={"en": p.en, "zh": p.zh},
                generalizes=list(p.generalizes),
            )
            for p in PROCESSES.values()
        ],
        materials=[
            MaterialOut(code=m.code, kind=m.kind, labels={"en": m.en, "zh": m.zh})
            for m in MATERIALS.values()
        ],
        certifications=[
            CertificationTypeOut(code=c.code, labels={"en": c.en, "zh": c.zh})
            for c in CERTIFICATIONS.values()
        ],
        tolerance_classes=list(TOLERANCE_CLASSES),
    )
    return taxonomy.model_dump()


class Health(BaseModel):
    status: str
    database: str


def healthz() -> ApiAnswer:
    """Liveness and database reachability, for load balancers and monitors."""
    database_ok = db.database().ping()
    health = Health(
        status="ok" if database_ok else "degraded",
        database="ok" if database_ok else "unavailable",
    )
    return health.model_dump(), 200 if database_ok else 503
