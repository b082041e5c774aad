from datetime import date

import sqlalchemy as sa
from sqlmodel import select

from factories.models import Capability, CapacityBucket, Certification, Factory
from factories.taxonomy import PROCESSES, Din8580Group
from marketplace.accounts.models import Membership, Role, User
from marketplace.accounts.passwords import verify_password
from marketplace.orders.models import Order, OrderLine, Proposal
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace

MONDAY = date(2026, 11, 23)


def fingerprint(session):
    """Everything a person would see, minus database ids and wall-clock times."""
    factories = session.exec(
        select(
            Factory.global_id, Factory.name, Factory.region, Factory.status, Factory.credit_score
        ).order_by(Factory.global_id)
    ).all()
    capacity = session.exec(
        select(
            Factory.global_id,
            CapacityBucket.resource,
            CapacityBucket.point_in_time,
            CapacityBucket.maximum_hours,
            CapacityBucket.booked_hours,
        )
        .join(Factory)
        .order_by(Factory.global_id, CapacityBucket.resource, CapacityBucket.point_in_time)
    ).all()
    orders = session.exec(
        select(Order.title, Order.state, Order.due_date).order_by(Order.title)
    ).all()
    return factories, capacity, orders


def test_default_demo_is_a_realistic_cluster(db_session):
    summary = seed_marketplace(db_session, DemoSpec(start=MONDAY))
    assert summary.factories >= 60
    assert summary.regions >= 4
    assert summary.orders >= 150

    processes = db_session.exec(select(Capability.process_code).distinct()).all()
    assert {PROCESSES[p].group for p in processes} == set(Din8580Group)

    weeks = db_session.exec(select(CapacityBucket.point_in_time).distinct()).all()
    assert len(weeks) == 8 and min(weeks) == MONDAY
    assert all(w.weekday() == 0 for w in weeks)

    states = dict(db_session.exec(select(Order.state, sa.func.count()).group_by(Order.state)).all())
    assert len(states) >= 8, states
    assert db_session.exec(select(sa.func.count(OrderLine.id))).one() >= summary.orders
    assert db_session.exec(select(sa.func.count(Proposal.id))).one() > 0
    assert db_session.exec(select(sa.func.count(Certification.id))).one() > 0

    overbooked = db_session.exec(
        select(sa.func.count()).where(CapacityBucket.booked_hours > CapacityBucket.maximum_hours)
    ).one()
    assert overbooked == 0
    sold_out = db_session.exec(
        select(sa.func.count()).where(CapacityBucket.booked_hours == CapacityBucket.maximum_hours)
    ).one()
    assert sold_out > 0, "some weeks should be fully booked"


def test_one_working_login_per_role(db_session):
    summary = seed_marketplace(db_session, DemoSpec(factories=10, orders=5, start=MONDAY))
    assert set(summary.logins) == {role.value for role in Role}
    for role, (email, password) in summary.logins.items():
        user = db_session.exec(select(User).where(User.email == email)).one()
        assert verify_password(user.password_hash, password)
        membership = db_session.exec(select(Membership).where(Membership.user_id == user.id)).one()
        assert membership.role == role


def test_same_seed_same_marketplace_other_seed_other_marketplace(db_session):
    spec = DemoSpec(factories=25, orders=40, weeks=4, seed=11, start=MONDAY)
    first = db_session.begin_nested()
    seed_marketplace(db_session, spec)
    once = fingerprint(db_session)
    first.rollback()

    second = db_session.begin_nested()
    seed_marketplace(db_session, spec)
    again = fingerprint(db_session)
    second.rollback()

    seed_marketplace(db_session, DemoSpec(factories=25, orders=40, weeks=4, seed=12, start=MONDAY))
    other = fingerprint(db_session)

    assert once == again
    assert once[0] and once[1] and once[2]
    assert other != once
