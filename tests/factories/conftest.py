"""Builders for the supply side: a factory with capabilities, certifications and capacity."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from factories.capability import CapabilityDetails, create_capability
from factories.capacity.calendar import CapacityChange, set_capacity
from factories.capacity.weeks import monday_of
from factories.models import CapacityBucket, Factory, FactoryStatus
from factories.onboarding import CertificationDetails, FactoryDetails, register_factory
from marketplace.accounts.models import OrganizationKind
from marketplace.accounts.service import create_organization

# A fixed "today" (a Wednesday) keeps weeks and validity dates reproducible.
TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
THIS_WEEK = monday_of(TODAY)


def week(n: int) -> date:
    """Monday of the n-th week from this one."""
    return THIS_WEEK + timedelta(weeks=n)


def capability_details(process: str = "milling_5axis", **overrides: object) -> CapabilityDetails:
    values: dict[str, object] = {
        "process_code": process,
        "materials": ("aluminium", "titanium"),
        "tolerance_class": "ISO 2768-f",
        "max_length_mm": 800,
        "max_width_mm": 600,
        "max_height_mm": 400,
        "batch_min": 1,
        "batch_max": 500,
        "hourly_rate_minor": 9550,
        "currency": "EUR",
    }
    values.update(overrides)
    return CapabilityDetails(**values)  # type: ignore[arg-type]


def certification_details(
    code: str = "ISO9001", valid_until: date | None = None, valid_from: date | None = None
) -> CertificationDetails:
    until = valid_until or TODAY + timedelta(days=400)
    return CertificationDetails(
        certificate_type=code,
        registration_number=f"{code}-4711",
        issuer="TÜV SÜD",
        valid_from=valid_from or until - timedelta(days=3 * 365),
        valid_until=until,
        certificate_version="2015",
    )


@pytest.fixture
def factory_org(db_session):
    counter = itertools.count(1)

    def make(name: str | None = None):
        return create_organization(
            db_session, OrganizationKind.FACTORY, name or f"Factory org {next(counter)}", "DE"
        )

    return make


@pytest.fixture
def make_factory(db_session, factory_org):
    """make_factory(...) -> Factory with capabilities, certifications and capacity."""

    def make(
        name: str = "Keller Präzision",
        *,
        organization_id: int | None = None,
        status: str = FactoryStatus.VERIFIED,
        region: str = "Baden-Württemberg",
        country: str = "DE",
        latitude: float = 48.78,
        longitude: float = 9.18,
        credit: float = 0.8,
        capabilities: list[CapabilityDetails] | None = None,
        certifications: list[CertificationDetails] | None = None,
        hours: dict[str, list[tuple[int, str, str]]] | None = None,
        weekly: str | None = "40",
        weeks: int = 12,
        today: date = TODAY,
        now: datetime = NOW,
    ) -> Factory:
        """`hours` maps a process to (week n, maximum, booked) rows; `weekly` fills the
        rest of the first `weeks` weeks of every capability with that maximum."""

        def at(n: int) -> date:
            return monday_of(today) + timedelta(weeks=n)

        org_id = organization_id or factory_org().id
        factory = register_factory(
            db_session,
            org_id,
            FactoryDetails(
                name=name,
                country=country,
                region=region,
                city="Stuttgart",
                latitude=latitude,
                longitude=longitude,
            ),
            certifications if certifications is not None else [certification_details()],
        )
        factory.status = status
        factory.credit_score = credit
        if status == FactoryStatus.VERIFIED:
            factory.verified_at = now
        if capabilities is None:
            capabilities = [capability_details()]
        for details in capabilities:
            create_capability(db_session, factory, details)
        explicit = {
            (process, n): (Decimal(maximum), Decimal(booked))
            for process, rows in (hours or {}).items()
            for n, maximum, booked in rows
        }
        changes = []
        processes = [c.process_code for c in capabilities]
        for process in processes:
            for n in range(weeks):
                if (process, n) in explicit:
                    continue
                if weekly is not None:
                    changes.append(CapacityChange(process, at(n), Decimal(weekly)))
        for (process, n), (maximum, _) in explicit.items():
            changes.append(CapacityChange(process, at(n), maximum))
        if changes:
            set_capacity(db_session, factory, changes, today, now)
        for (process, n), (_, booked) in explicit.items():
            db_session.execute(
                sa.update(CapacityBucket)
                .where(
                    CapacityBucket.factory_id == factory.id,
                    CapacityBucket.resource == process,
                    CapacityBucket.point_in_time == at(n),
                )
                .values(booked_hours=booked)
            )
        db_session.flush()
        db_session.expire_all()
        return db_session.get(Factory, factory.id)

    return make
