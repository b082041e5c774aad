"""Test fixtures: a throwaway PostgreSQL database migrated with Alembic, and a
savepoint per test so that every test starts from the same empty, migrated schema.

Outside CI a missing PostgreSQL skips the database tests; with CI=true it stops the
run at once, because a green run that tested nothing is worse than a red one.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from werkzeug.test import TestResponse

from marketplace.accounts.models import Organization, OrganizationKind, Role, User
from marketplace.accounts.service import add_member, create_organization, create_user
from marketplace.app import create_app
from marketplace.config import Settings, normalize_database_url
from marketplace.db import Database
from marketplace.migrate import scratch_database

pytest_plugins = ["tests.live", "tests.mail"]

TEST_DATABASE_URL = normalize_database_url(
    os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
IN_CI = os.environ.get("CI", "").lower() == "true"

# Services the suite talks to for real; CI must have every one of them.
SERVICES = {
    "PostgreSQL": (
        sa.make_url(TEST_DATABASE_URL).host or "127.0.0.1",
        sa.make_url(TEST_DATABASE_URL).port or 5432,
    ),
    "Redis": ("127.0.0.1", 6379),
    "RabbitMQ": ("127.0.0.1", 5672),
    "Mosquitto": ("127.0.0.1", 1883),
}


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    if not IN_CI:
        return
    missing = [
        f"{name} at {host}:{port}"
        for name, (host, port) in SERVICES.items()
        if not service_reachable(host, port)
    ]
    if missing:
        raise pytest.UsageError("CI=true but these services are unreachable: " + ", ".join(missing))


def require_postgresql() -> None:
    """Skip the calling fixture's tests without PostgreSQL, or fail them in CI."""
    try:
        engine = sa.create_engine(TEST_DATABASE_URL, poolclass=sa.pool.NullPool)
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as error:
        shown = sa.make_url(TEST_DATABASE_URL).render_as_string()
        message = f"PostgreSQL unreachable at {shown}: {error}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database per test run, migrated to head with the real Alembic revisions."""
    require_postgresql()
    with scratch_database(TEST_DATABASE_URL, "factoryweb_test") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One connection and one outer transaction per test, rolled back at the end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


def savepoint_sessions(connection: sa.Connection) -> sessionmaker[Session]:
    # Each commit in code under test releases a savepoint instead of committing.
    return sessionmaker(
        bind=connection,
        class_=Session,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def db_session(connection: sa.Connection) -> Iterator[Session]:
    session = savepoint_sessions(connection)()
    yield session
    session.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env="testing",
        database_url=database_url,
        secret_key="test-secret-key",
        celery_broker_url=None,
        stripe_api_key=None,
        stripe_api_base=None,
        stripe_webhook_secret=None,
    )


@pytest.fixture
def app(settings: Settings, engine: sa.Engine, connection: sa.Connection):  # type: ignore[no-untyped-def]
    database = Database(engine, savepoint_sessions(connection))
    # No app context is pushed here: each test-client request must get its own, as in
    # production, or per-request caches (such as the chosen locale) leak between requests.
    return create_app(settings, database=database, TESTING=True)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


# People and organizations -------------------------------------------------------------

PASSWORD = "correct horse battery staple"


@dataclass
class Member:
    user: User
    organization: Organization
    role: Role
    password: str = PASSWORD

    @property
    def email(self) -> str:
        return self.user.email


@pytest.fixture
def make_member(db_session: Session):  # type: ignore[no-untyped-def]
    """make_member(kind, role) -> Member: a committed user in a new (or given) organization."""
    counter = itertools.count(1)

    def make(
        kind: OrganizationKind,
        role: Role,
        organization: Organization | None = None,
        email: str | None = None,
    ) -> Member:
        n = next(counter)
        organization = organization or create_organization(
            db_session, kind, f"{kind} org {n}", "DE"
        )
        user = create_user(
            db_session,
            email or f"{role}-{n}-{secrets.token_hex(3)}@example.com",
            PASSWORD,
            display_name=f"{role} {n}",
        )
        add_member(db_session, user, organization, role)
        db_session.commit()
        return Member(user, organization, role)

    return make


class Browser:
    """The test client used the way a browser and an API client use the site:
    CSRF protection stays on, so every write carries a real token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf_token(self) -> str:
        page = self.client.get("/").get_data(as_text=True)
        return page.split('name="csrf-token" content="')[1].split('"')[0]

    def login(self, member: Member) -> None:
        response = self.client.post(
            "/login",
            data={
                "email": member.email,
                "password": member.password,
                "csrf_token": self.csrf_token(),
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)

    def logout(self) -> None:
        self.client.post("/logout", data={"csrf_token": self.csrf_token()})

    def form(self, url: str, data: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.client.post(url, data={**data, "csrf_token": self.csrf_token()}, **kwargs)

    def api(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        headers = {"X-CSRFToken": self.csrf_token(), **kwargs.pop("headers", {})}
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def new_browser(app):  # type: ignore[no-untyped-def]
    """A second, independent browser (another person, another cookie jar)."""
    return lambda: Browser(app.test_client())
