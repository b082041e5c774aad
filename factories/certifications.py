"""When a certification counts: the one rule that search, eligibility and the UI share.

A certificate counts on a day when that day lies within its validity, both ends
included: `valid_from <= day <= valid_until`. Expired certificates (and ones not yet
in force) stay on record and are shown, flagged, but they no longer make a factory
eligible for work that requires them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import Certification


def is_valid_on(certification: Certification, day: date) -> bool:
    return certification.valid_from <= day <= certification.valid_until


def valid_on(day: date) -> sa.ColumnElement[bool]:
    """The same rule as a SQL condition on the certification table."""
    return sa.and_(col(Certification.valid_from) <= day, col(Certification.valid_until) >= day)


def certifications_of(session: Session, factory_id: int) -> list[Certification]:
    """Every certification on record, valid or not, in a stable order."""
    return list(
        session.exec(
            select(Certification)
            .where(Certification.factory_id == factory_id)
            .order_by(
                col(Certification.certificate_type),
                col(Certification.valid_until),
                col(Certification.id),
            )
        ).all()
    )


def valid_certifications(session: Session, factory_id: int, day: date) -> list[Certification]:
    """The certifications of a factory that count on `day`."""
    return list(
        session.exec(
            select(Certification)
            .where(Certification.factory_id == factory_id, valid_on(day))
            .order_by(col(Certification.certificate_type), col(Certification.id))
        ).all()
    )


def valid_certificate_types(
    session: Session, factory_ids: Iterable[int], day: date
) -> dict[int, set[str]]:
    """factory id -> the certificate types (taxonomy codes) that count on `day`."""
    ids = list(factory_ids)
    held: dict[int, set[str]] = defaultdict(set)
    if not ids:
        return held
    rows = session.exec(
        select(Certification.factory_id, Certification.certificate_type).where(
            col(Certification.factory_id).in_(ids), valid_on(day)
        )
    ).all()
    for factory_id, certificate_type in rows:
        held[factory_id].add(certificate_type)
    return held
