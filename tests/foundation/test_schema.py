"""The schema: migrations match the models, and the database enforces the core rules."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import marketplace.models  # noqa: F401
from factories.models import CapacityBucket, Factory
from marketplace.accounts.models import Organization
from marketplace.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    scratch_database,
)


def test_migrations_and_models_do_not_drift(connection):
    differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_alembic_check_passes(database_url):
    command.check(alembic_config(database_url))


def test_database_is_at_the_single_head(engine):
    assert current_revision(engine) == head_revision()


def test_migrations_downgrade_to_base_and_back(database_url):
    """Every revision can be undone; run in its own database so the suite's stays intact."""
    with scratch_database(database_url, "factoryweb_cycle", migrated=False) as url:
        command.upgrade(alembic_config(url), "head")
        command.downgrade(alembic_config(url), "base")
        command.upgrade(alembic_config(url), "head")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        assert "capacity_bucket" in sa.inspect(engine).get_table_names()
        engine.dispose()


@pytest.fixture
def factory(db_session):
    organization = Organization(kind="factory", name="Keller Präzision")
    db_session.add(organization)
    db_session.flush()
    factory = Factory(
        organization_id=organization.id,
        name="Keller Präzision",
        country="DE",
        region="Baden-Württemberg",
        latitude=48.78,
        longitude=9.18,
    )
    db_session.add(factory)
    db_session.flush()
    return factory


def test_factory_gets_a_global_urn_and_utc_timestamps(db_session, factory):
    db_session.expire_all()
    loaded = db_session.get(Factory, factory.id)
    assert loaded.global_id.startswith("urn:factoryweb:factory:")
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset().total_seconds() == 0
    assert loaded.status == "pending"


def test_naive_timestamps_are_refused(db_session, factory):
    factory.verified_at = datetime(2026, 1, 1)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db_session.flush()


def test_capacity_can_never_be_overbooked(db_session, factory):
    bucket = CapacityBucket(
        factory_id=factory.id,
        resource="milling_3axis",
        point_in_time=date(2026, 11, 23),
        actual_hours=Decimal(30),
        maximum_hours=Decimal(40),
        booked_hours=Decimal(40),
    )
    db_session.add(bucket)
    db_session.flush()
    assert bucket.free_hours == 0
    overbook = (
        sa.update(CapacityBucket)
        .where(CapacityBucket.id == bucket.id)
        .values(booked_hours=CapacityBucket.booked_hours + Decimal("0.01"))
    )
    with pytest.raises(sa.exc.IntegrityError, match="not_overbooked"), db_session.begin_nested():
        db_session.execute(overbook)


def test_one_bucket_per_factory_resource_and_week(db_session, factory):
    week = date(2026, 11, 23)
    for _ in range(2):
        db_session.add(
            CapacityBucket(
                factory_id=factory.id,
                resource="turning",
                point_in_time=week,
                actual_hours=Decimal(1),
                maximum_hours=Decimal(1),
            )
        )
    with pytest.raises(sa.exc.IntegrityError, match="uq_capacity_bucket"):
        db_session.flush()


def test_timestamps_are_stored_as_timestamptz(engine):
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("factory")}
    assert isinstance(columns["created_at"]["type"], sa.DateTime)
    assert columns["created_at"]["type"].timezone is True
    assert datetime.now(UTC).tzinfo is UTC
