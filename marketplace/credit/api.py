"""Credit in the REST API: the platform's public key that signs credit reports (public,
for lenders), a factory's score with its breakdown, and its signed report."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, Field

from factories.credit import report as reports
from factories.credit.service import standing_of
from factories.models import id_of, utcnow
from marketplace import db
from marketplace.accounts.access import login_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.api.answers import SIGNED_IN, ApiAnswer
from marketplace.credit import access, presenters
from marketplace.credit.blueprints import CREDIT, api
from marketplace.credit.keys import signing_key
from marketplace.supply.schemas import FactoryPath


class PublicKeyOut(BaseModel):
    algorithm: str = Field(description="Ed25519")
    key_id: str = Field(description="first 16 hex digits of SHA-256 over the raw key")
    public_key: str = Field(description="the raw 32-byte public key, base64")
    pem: str = Field(description="the same key as a PEM SubjectPublicKeyInfo")


class ComponentOut(BaseModel):
    name: str
    weight: float
    value: float = Field(description="0 to 1, smoothed towards the prior")
    points: float = Field(description="weight x value: its part of the score")
    good: float = Field(description="good outcomes, older ones weighing less")
    bad: float
    events: int
    order_ids: list[int] | None = Field(
        default=None, description="the orders behind it (the factory and operators only)"
    )
    event_ids: list[int] | None = None


class CreditOut(BaseModel):
    factory_id: int
    score: float
    prior: float = Field(description="where a factory without events starts")
    events: int
    components: list[ComponentOut]


@api.get("/credit/public-key", tags=[CREDIT], responses={200: PublicKeyOut}, security=[])
def public_key() -> ApiAnswer:
    """The key that signs credit reports: check a report with it (docs/credit.md)."""
    key = signing_key().public_key()
    pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return PublicKeyOut(
        algorithm=reports.ALGORITHM,
        key_id=reports.key_id(key),
        public_key=reports.public_key_text(key),
        pem=pem,
    ).model_dump()


@api.get(
    "/factories/<int:factory_id>/credit",
    tags=[CREDIT],
    responses={200: CreditOut},
    security=SIGNED_IN,
)
@login_required
@shared_across_organizations(Role.OPERATOR, Role.BUYER_MEMBER)
def factory_credit(path: FactoryPath) -> ApiAnswer:
    """The factory's score and how it is made: its own people and operators see the
    orders behind each component, buyers the components only."""
    view = access.credit_view(path.factory_id)
    standing = standing_of(db.session(), id_of(view.factory), utcnow())
    body = presenters.breakdown(standing, full=view.full)
    return CreditOut(factory_id=id_of(view.factory), **body).model_dump(exclude_none=True)


@api.get(
    "/factories/<int:factory_id>/credit/report",
    tags=[CREDIT],
    responses={200: {"content": {"application/json": {}}}},
    security=SIGNED_IN,
)
@login_required
@shared_across_organizations(Role.OPERATOR)
def credit_report(path: FactoryPath) -> ApiAnswer:
    """The factory's signed credit report (docs/credit.md), for its own people and
    operators."""
    factory = access.report_view(path.factory_id)
    return reports.sign(reports.build(db.session(), factory, utcnow()), signing_key())
