"""Fixtures of the orders tests: a small cluster of shops built by hand, so that every
test knows exactly which factory can do what and how many hours each has free."""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from factories.capacity.weeks import monday_of, weeks_from
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Certification,
    Factory,
    FactoryStatus,
    utcnow,
)
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.service import (
    Principal,
    add_member,
    create_organization,
    create_user,
    principal_for,
)
from marketplace.app import create_app
from marketplace.config import Settings
from marketplace.db import Database
from marketplace.migrate import scratch_database
from marketplace.orders.outbox import set_process_default
from marketplace.orders.posting.service import LineInput, OrderInput
from marketplace.orders.workers.dispatchers import ManualDispatcher
from marketplace.orders.workers.queue import worker_command
from marketplace.payments import charges
from marketplace.payments.gateways.base import CARD_SUCCEEDS
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.models import Payment
from marketplace.payments.settings import PaymentSettings
from tests.conftest import PASSWORD, Member, savepoint_sessions, service_reachable

REDIS = ("127.0.0.1", 6379)
ROOT = Path(__file__).resolve().parents[2]

STUTTGART = (48.78, 9.18)
MILAN = (45.46, 9.19)
SHENZHEN = (22.54, 114.06)


@pytest.fixture
def app(settings, engine, connection, tmp_path):  # type: ignore[no-untyped-def]
    database = Database(engine, savepoint_sessions(connection))
    return create_app(
        settings,
        database=database,
        TESTING=True,
        ORDERS_RUNNER="manual",
        ORDERS_UPLOAD_FOLDER=str(tmp_path / "uploads"),
    )


@pytest.fixture
def database(app) -> Database:  # type: ignore[no-untyped-def]
    return app.extensions["factoryweb.db"]


@pytest.fixture
def dispatcher(app):  # type: ignore[no-untyped-def]
    """The app's manual dispatcher; services called outside a request use it too."""
    manual = app.extensions["factoryweb.orders.dispatcher"]
    set_process_default(manual)
    yield manual
    set_process_default(None)


@dataclass
class Shop:
    factory: Factory
    owner: Member
    capability: Capability
    buckets: list[CapacityBucket]

    @property
    def id(self) -> int:
        return self.factory.id  # type: ignore[return-value]


def principal(session: Session, member: Member) -> Principal:
    found = principal_for(session, member.user.id, member.organization.id)  # type: ignore[arg-type]
    assert found is not None
    return found


def create_shop(
    session: Session,
    organization_id: int,
    process: str = "milling_3axis",
    hours: float | list[float] = 40,
    rate_minor: int = 6000,
    *,
    materials: tuple[str, ...] = ("aluminium", "steel"),
    location: tuple[float, float] = STUTTGART,
    credit: float = 0.9,
    tolerance: str = "ISO 2768-f",
    envelope: tuple[int, int, int] = (1000, 800, 600),
    certifications: tuple[str, ...] = (),
    expired_certifications: tuple[str, ...] = (),
    status: str = FactoryStatus.VERIFIED,
    weeks: int = 6,
    booked: float = 0,
    currency: str = "EUR",
    name: str | None = None,
) -> tuple[Factory, Capability, list[CapacityBucket]]:
    """A factory with one capability and capacity for `weeks` weeks from this week."""
    factory = Factory(
        organization_id=organization_id,
        name=name or f"Shop {process}",
        country="DE",
        region="Test",
        latitude=location[0],
        longitude=location[1],
        status=status,
        credit_score=credit,
    )
    session.add(factory)
    session.flush()
    capability = Capability(
        factory_id=factory.id,  # type: ignore[arg-type]
        process_code=process,
        tolerance_class=tolerance,
        max_length_mm=envelope[0],
        max_width_mm=envelope[1],
        max_height_mm=envelope[2],
        hourly_rate_minor=rate_minor,
        currency=currency,
    )
    session.add(capability)
    session.flush()
    for material in materials:
        session.add(CapabilityMaterial(capability_id=capability.id, material=material))  # type: ignore[arg-type]
    today = utcnow().date()
    for code in certifications:
        session.add(_certificate(factory.id, code, today + timedelta(days=400)))  # type: ignore[arg-type]
    for code in expired_certifications:
        session.add(_certificate(factory.id, code, today - timedelta(days=1)))  # type: ignore[arg-type]
    per_week = hours if isinstance(hours, list) else [hours] * weeks
    buckets = []
    for week, h in zip(weeks_from(today, len(per_week)), per_week, strict=True):
        bucket = CapacityBucket(
            factory_id=factory.id,  # type: ignore[arg-type]
            resource=process,
            point_in_time=week,
            actual_hours=Decimal(str(h)),
            maximum_hours=Decimal(str(h)),
            booked_hours=Decimal(str(min(booked, h))),
        )
        session.add(bucket)
        buckets.append(bucket)
    session.flush()
    return factory, capability, buckets


@pytest.fixture
def make_shop(db_session, make_member):  # type: ignore[no-untyped-def]
    """make_shop(process, hours per week, rate, ...) -> Shop with capacity for 6 weeks."""
    counter = itertools.count(1)

    def make(*args: Any, owner: Member | None = None, **kwargs: Any) -> Shop:
        owner = owner or make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
        kwargs.setdefault("name", f"Shop {next(counter)}")
        factory, capability, buckets = create_shop(
            db_session,
            owner.organization.id,  # type: ignore[arg-type]
            *args,
            **kwargs,
        )
        db_session.commit()
        return Shop(factory, owner, capability, buckets)

    return make


def _certificate(factory_id: int, code: str, valid_until: date) -> Certification:
    return Certification(
        factory_id=factory_id,
        certificate_type=code,
        registration_number=f"{code}-1",
        issuer="TÜV",
        valid_from=valid_until - timedelta(days=3 * 365),
        valid_until=valid_until,
    )


@pytest.fixture
def buyer(make_member) -> Member:  # type: ignore[no-untyped-def]
    return make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)


def line(**overrides: Any) -> LineInput:
    values: dict[str, Any] = {
        "process_code": "milling_3axis",
        "material": "aluminium",
        "quantity": 10,
        "hours": Decimal("20"),
        "length_mm": 200,
        "width_mm": 100,
        "height_mm": 50,
        "tolerance_class": "ISO 2768-m",
    }
    values.update(overrides)
    return LineInput(**values)


def order_input(*lines: LineInput, weeks: int = 4, **overrides: Any) -> OrderInput:
    today = utcnow().date()
    values: dict[str, Any] = {
        "title": "Brackets",
        "due_date": monday_of(today) + timedelta(weeks=weeks, days=4),
        "delivery_country": "DE",
        "delivery_city": "Stuttgart",
        "delivery_latitude": STUTTGART[0],
        "delivery_longitude": STUTTGART[1],
        "lines": list(lines) or [line()],
    }
    values.update(overrides)
    return OrderInput(**values)


def pay_order(
    db_session: Session,
    dispatcher: ManualDispatcher,
    database: Database,
    buyer: Member,
    order_id: int,
    card: str = CARD_SUCCEEDS,
) -> Payment:
    """The buyer pays the order (awaiting payment) with `card` on the simulated gateway;
    the gateway calls this causes are made at once."""
    payment = charges.pay(
        db_session,
        principal(db_session, buyer),
        order_id,
        card,
        gateway=SimulatedGateway(database),
        settings=PaymentSettings.from_mapping({}),
        now=utcnow(),
    )
    db_session.commit()
    dispatcher.run_jobs(database)
    db_session.expire_all()
    return payment


# Committed data, for tests that need other connections, threads or processes ------------


@pytest.fixture(scope="session")
def committed_url(database_url: str):  # type: ignore[no-untyped-def]
    """A database of its own, migrated, where tests commit for real (and see each other's
    rows: such tests only look at what they made, or at marketplace-wide invariants)."""
    with scratch_database(database_url, "factoryweb_orders") as url:
        yield url


@pytest.fixture(scope="session")
def committed(committed_url: str):  # type: ignore[no-untyped-def]
    database = Database.from_url(committed_url, pool_size=24, max_overflow=8)
    yield database
    database.engine.dispose()


def organization(session: Session, kind: OrganizationKind) -> int:
    org = create_organization(session, kind, f"{kind} {secrets.token_hex(3)}", "DE")
    return org.id  # type: ignore[return-value]


def person(session: Session, kind: OrganizationKind, role: Role) -> Member:
    """A committed member of a new organization in the session's database."""
    org = create_organization(session, kind, f"{kind} {secrets.token_hex(3)}", "DE")
    user = create_user(session, f"{role}-{secrets.token_hex(4)}@example.com", PASSWORD)
    add_member(session, user, org, role)
    session.flush()
    return Member(user, org, role)


@pytest.fixture
def committed_app(committed_url):
    """An application on the committed database: committed_app(runner, broker, **config);
    `stripe_base` gives it the Stripe gateway at that address."""
    apps = []

    def make(runner: str, broker: str | None = None, stripe_base: str | None = None, **config):
        settings = Settings(
            env="testing",
            database_url=committed_url,
            secret_key="test-secret-key",
            celery_broker_url=broker,
            stripe_api_key="sk_test_factoryweb" if stripe_base else None,
            stripe_api_base=stripe_base,
            stripe_webhook_secret="whsec_factoryweb_test" if stripe_base else None,
        )
        app = create_app(settings, TESTING=True, ORDERS_RUNNER=runner, **config)
        apps.append(app)
        return app

    yield make
    unfinished = []
    for app in apps:
        dispatcher = app.extensions["factoryweb.orders.dispatcher"]
        if hasattr(dispatcher, "stop_housekeeping") and not dispatcher.stop_housekeeping(120):
            unfinished.append(app)
            continue
        # Background work must end before its engine goes: a thread still holding a
        # connection would have it closed under its feet.
        if hasattr(dispatcher, "join") and not dispatcher.join(timeout=120):
            unfinished.append(app)
            continue
        app.extensions["factoryweb.db"].engine.dispose()
    assert not unfinished, "background work of the test still running after 120 s"


@pytest.fixture
def start_celery_worker(committed_url, tmp_path):
    """Start real worker processes (`celery --app marketplace.tasks worker`) on Redis,
    each on a queue of its own, with `environment` added to theirs; they are stopped
    after the test. Returns (broker, queue, process, log)."""
    if not service_reachable(*REDIS):
        pytest.skip("Redis unreachable at 127.0.0.1:6379")
    started: list[subprocess.Popen] = []

    def start(**environment: str):  # type: ignore[no-untyped-def]
        queue = f"factoryweb-test-{uuid.uuid4().hex[:8]}"
        broker = "redis://127.0.0.1:6379/0"
        env = {
            **os.environ,
            "DATABASE_URL": committed_url,
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": queue,
            "PYTHONPATH": str(ROOT),
            **environment,
        }
        # Its output goes to a file: a pipe nobody reads would stall the worker once full.
        log = tmp_path / f"worker-{queue}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                worker_command(queue),
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return broker, queue, process, log

    yield start
    for process in started:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
