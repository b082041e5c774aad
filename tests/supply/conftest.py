"""Supply pages and API: people of each kind, and factories built for today's date."""

from __future__ import annotations

from datetime import timedelta

import pytest

from factories.capacity.weeks import monday_of
from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from tests.factories.conftest import factory_org, make_factory  # noqa: F401  (fixtures)


def this_week():
    return monday_of(utcnow().date())


def week(n: int):
    return this_week() + timedelta(weeks=n)


@pytest.fixture
def owner(make_member):
    return make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)


@pytest.fixture
def operator(make_member):
    return make_member(OrganizationKind.OPERATOR, Role.OPERATOR)


@pytest.fixture
def buyer(make_member):
    return make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)


@pytest.fixture
def live_factory(request):
    """make_factory with weeks counted from the real current week, as the pages see it."""
    build = request.getfixturevalue("make_factory")

    def make(*args, **kwargs):
        now = utcnow()
        return build(*args, today=now.date(), now=now, **kwargs)

    return make


@pytest.fixture
def owned_factory(owner, live_factory, db_session):
    factory = live_factory(organization_id=owner.organization.id)
    db_session.commit()
    return factory
