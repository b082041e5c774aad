"""Registering a factory, its certifications, and the operator's verify/suspend decision.

A factory organization registers one or more factories; each starts `pending` and is
visible to buyers only once a cluster operator has verified it. Every function checks
the whole input first and raises FactoryError naming each faulty field; only then does
it touch the session (and it flushes, never commits).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict

import sqlalchemy as sa
from babel import Locale
from sqlmodel import Session, col, select

from factories.certifications import is_valid_on
from factories.errors import N_, FactoryError, Problems
from factories.models import (
    Capability,
    Certification,
    Factory,
    FactoryStatus,
    get_by_id,
    id_of,
    text_limit,
)
from factories.paging import Page, check_paging, offset
from factories.taxonomy import CERTIFICATIONS

# ISO 3166-1 alpha-2 codes Babel knows, without the groupings that are not countries.
COUNTRIES: frozenset[str] = frozenset(
    code
    for code in Locale("en").territories
    if isinstance(code, str)
    and len(code) == 2
    and code.isalpha()
    and code not in {"EU", "EZ", "QO", "UN", "XA", "ZZ"}
)
REVIEW_PER_PAGE = 50


@dataclass(frozen=True)
class FactoryDetails:
    """What a factory owner tells about the factory itself."""

    name: str
    country: str
    region: str
    latitude: float
    longitude: float
    city: str = ""

    def normalized(self) -> FactoryDetails:
        return FactoryDetails(
            name=" ".join(self.name.split()),
            country=self.country.strip().upper(),
            region=" ".join(self.region.split()),
            city=" ".join(self.city.split()),
            latitude=self.latitude,
            longitude=self.longitude,
        )


@dataclass(frozen=True)
class CertificationDetails:
    certificate_type: str
    registration_number: str
    issuer: str
    valid_from: date
    valid_until: date
    certificate_version: str = ""

    def normalized(self) -> CertificationDetails:
        return CertificationDetails(
            certificate_type=self.certificate_type.strip(),
            registration_number=self.registration_number.strip(),
            issuer=" ".join(self.issuer.split()),
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            certificate_version=self.certificate_version.strip(),
        )


def _text(problems: Problems, field: str, value: str, maximum: int, required: bool = True) -> None:
    """A text that must fit its column (`maximum`: see text_limit), and be given if required."""
    if required and not value:
        problems.add(field, N_("is required"))
    elif len(value) > maximum:
        problems.add(field, N_("must be at most %(maximum)s characters", maximum=maximum))


def _coordinate(problems: Problems, field: str, value: float | None, limit: int) -> None:
    if value is None:
        problems.add(field, N_("is required"))
    elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        problems.add(field, N_("must be a number"))
    elif not -limit <= value <= limit:
        problems.add(field, N_("must be between -%(limit)s and %(limit)s", limit=limit))


def check_factory_details(details: FactoryDetails, names: dict[str, str] | None = None) -> Problems:
    """Problems of the factory's own fields; `names` renames fields for other contracts."""
    name_of = (names or {}).get
    problems = Problems()
    _text(problems, name_of("name", "name"), details.name, text_limit(Factory, "name"))
    if details.country not in COUNTRIES:
        problems.add(
            name_of("country", "country"), N_("must be an ISO 3166-1 alpha-2 country code")
        )
    _text(problems, name_of("region", "region"), details.region, text_limit(Factory, "region"))
    _text(
        problems,
        name_of("city", "city"),
        details.city,
        text_limit(Factory, "city"),
        required=False,
    )
    _coordinate(problems, name_of("latitude", "latitude"), details.latitude, 90)
    _coordinate(problems, name_of("longitude", "longitude"), details.longitude, 180)
    return problems


def check_certification(
    details: CertificationDetails, prefix: str = "", names: dict[str, str] | None = None
) -> Problems:
    def name(field: str) -> str:
        return f"{prefix}{(names or {}).get(field, field)}"

    problems = Problems()
    if details.certificate_type not in CERTIFICATIONS:
        known = ", ".join(CERTIFICATIONS)
        problems.add(name("certificate_type"), N_("must be one of %(choices)s", choices=known))
    _text(
        problems,
        name("registration_number"),
        details.registration_number,
        text_limit(Certification, "registration_number"),
    )
    _text(problems, name("issuer"), details.issuer, text_limit(Certification, "issuer"))
    _text(
        problems,
        name("certificate_version"),
        details.certificate_version,
        text_limit(Certification, "certificate_version"),
        required=False,
    )
    if details.valid_from is None:
        problems.add(name("valid_from"), N_("is required"))
    if details.valid_until is None:
        problems.add(name("valid_until"), N_("is required"))
    elif details.valid_from is not None and details.valid_until < details.valid_from:
        problems.add(name("valid_until"), N_("must not be before the start of validity"))
    return problems


def register_factory(
    session: Session,
    organization_id: int,
    details: FactoryDetails,
    certifications: Sequence[CertificationDetails] = (),
) -> Factory:
    """A new factory of the organization, `pending` until an operator verifies it."""
    details = details.normalized()
    certifications = [c.normalized() for c in certifications]
    problems = check_factory_details(details)
    for i, certification in enumerate(certifications):
        problems.extend(check_certification(certification, prefix=f"certifications[{i}]."))
    problems.raise_if_any()
    factory = Factory(
        organization_id=organization_id,
        status=FactoryStatus.PENDING,
        **_factory_columns(details),
    )
    session.add(factory)
    session.flush()
    for certification in certifications:
        _add_certification_row(session, factory, certification)
    session.flush()
    return factory


def update_factory(session: Session, factory: Factory, details: FactoryDetails) -> Factory:
    details = details.normalized()
    check_factory_details(details).raise_if_any()
    for column, value in _factory_columns(details).items():
        setattr(factory, column, value)
    session.add(factory)
    session.flush()
    return factory


class _FactoryColumns(TypedDict):
    name: str
    country: str
    region: str
    city: str
    latitude: float
    longitude: float


def _factory_columns(details: FactoryDetails) -> _FactoryColumns:
    return {
        "name": details.name,
        "country": details.country,
        "region": details.region,
        "city": details.city,
        "latitude": float(details.latitude),
        "longitude": float(details.longitude),
    }


def add_certification(
    session: Session, factory: Factory, details: CertificationDetails
) -> Certification:
    details = details.normalized()
    check_certification(details).raise_if_any()
    certification = _add_certification_row(session, factory, details)
    session.flush()
    return certification


def _add_certification_row(
    session: Session, factory: Factory, details: CertificationDetails
) -> Certification:
    certification = Certification(
        factory_id=id_of(factory),
        certificate_type=details.certificate_type,
        certificate_version=details.certificate_version,
        registration_number=details.registration_number,
        issuer=details.issuer,
        valid_from=details.valid_from,
        valid_until=details.valid_until,
    )
    session.add(certification)
    return certification


def replace_certifications(
    session: Session, factory: Factory, certifications: Iterable[CertificationDetails]
) -> None:
    """The factory's certifications become exactly `certifications` (already checked)."""
    session.execute(sa.delete(Certification).where(col(Certification.factory_id) == factory.id))
    for details in certifications:
        _add_certification_row(session, factory, details)
    session.flush()


def remove_certification(session: Session, factory: Factory, certification_id: int) -> None:
    certification = get_by_id(session, Certification, certification_id)
    if certification is None or certification.factory_id != factory.id:
        raise FactoryError("certification", N_("no such certification of this factory"))
    session.delete(certification)
    session.flush()


def factories_of(session: Session, organization_id: int) -> list[Factory]:
    return list(
        session.exec(
            select(Factory)
            .where(col(Factory.organization_id) == organization_id)
            .order_by(col(Factory.id))
        ).all()
    )


def find_factory(session: Session, reference: str | int) -> Factory | None:
    """By numeric id or by global id (`urn:factoryweb:factory:...`); None for an id
    no factory can have."""
    text = str(reference).strip()
    if isinstance(reference, int) or (text.isascii() and text.isdigit()):
        return get_by_id(session, Factory, int(reference))
    return session.exec(select(Factory).where(Factory.global_id == text)).first()


# The operator's decision ----------------------------------------------------------------


def verify_factory(session: Session, factory: Factory, now: datetime) -> Factory:
    """Verified factories are listed to buyers and can receive work."""
    factory.status = FactoryStatus.VERIFIED
    factory.verified_at = now
    factory.status_reason = ""
    session.add(factory)
    session.flush()
    return factory


def suspend_factory(session: Session, factory: Factory, reason: str) -> Factory:
    """Suspended factories disappear from search and eligibility; the reason is shown to them."""
    reason = " ".join(reason.split())
    problems = Problems()
    _text(problems, "reason", reason, text_limit(Factory, "status_reason"))
    problems.raise_if_any()
    factory.status = FactoryStatus.SUSPENDED
    factory.status_reason = reason
    session.add(factory)
    session.flush()
    return factory


# The operator's review list ----------------------------------------------------------


@dataclass(frozen=True)
class CertificationReview:
    certification: Certification
    valid: bool


@dataclass(frozen=True)
class FactoryReview:
    """What an operator needs to decide on a factory without opening it."""

    factory: Factory
    certifications: list[CertificationReview]
    processes: list[str]


def factories_for_review(
    session: Session,
    *,
    today: date,
    status: str | None = None,
    text: str = "",
    page: int = 1,
    per_page: int = REVIEW_PER_PAGE,
) -> Page[FactoryReview]:
    """One page of factories, newest first, with their certifications (each marked valid
    or not on `today`) and processes. `text` matches the name, region, city, country or
    global id; `status` None means every status. A page past the end is empty; a page
    below 1 is a FactoryError (see factories.paging)."""
    check_paging(page, per_page, REVIEW_PER_PAGE).raise_if_any()
    conditions: list[sa.ColumnElement[bool]] = []
    if status is not None:
        conditions.append(col(Factory.status) == status)
    text = " ".join(text.split())
    if text:
        needle = text.lower()
        conditions.append(
            sa.or_(
                *(
                    sa.func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        Factory.name,
                        Factory.region,
                        Factory.city,
                        Factory.country,
                        Factory.global_id,
                    )
                )
            )
        )
    total = session.exec(select(sa.func.count()).select_from(Factory).where(*conditions)).one()
    factories = session.exec(
        select(Factory)
        .where(*conditions)
        .order_by(col(Factory.created_at).desc(), col(Factory.id).desc())
        .offset(offset(page, per_page))
        .limit(per_page)
    ).all()
    ids = [f.id for f in factories]
    certifications: dict[int, list[CertificationReview]] = defaultdict(list)
    processes: dict[int, list[str]] = defaultdict(list)
    if ids:
        for certification in session.exec(
            select(Certification)
            .where(col(Certification.factory_id).in_(ids))
            .order_by(col(Certification.certificate_type), col(Certification.valid_until))
        ).all():
            certifications[certification.factory_id].append(
                CertificationReview(certification, is_valid_on(certification, today))
            )
        for factory_id, process_code in session.exec(
            select(Capability.factory_id, Capability.process_code)
            .where(col(Capability.factory_id).in_(ids))
            .order_by(Capability.process_code)
        ).all():
            processes[factory_id].append(process_code)
    entries = [FactoryReview(f, certifications[id_of(f)], processes[id_of(f)]) for f in factories]
    return Page(entries, int(total), page, per_page)
