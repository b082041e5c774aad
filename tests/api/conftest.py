"""A small seeded marketplace with people of every role in several organizations, and a
map from every row to the organizations that may see it.

"May see" is derived from the schema alone: a row belongs to the organizations its
foreign keys lead to (an order to its buyer, a proposal to its factory and, through the
order line, to the buyer; a user to the organizations they are a member of). Tables added
later are covered the same way; a table the demo does not fill gets one row made up from
its column types, attached to the victim organizations.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

import marketplace.models  # noqa: F401  (every table on the metadata)
from factories.capability import CapabilityDetails, create_capability
from factories.models import Factory, utcnow
from marketplace.accounts.models import (
    Membership,
    OAuthClient,
    OAuthToken,
    Organization,
    OrganizationKind,
    Role,
)
from marketplace.accounts.oauth import SCOPES, create_client
from marketplace.accounts.service import Principal, principal_for
from marketplace.accounts.tokens import digest, new_secret
from marketplace.app import create_app
from marketplace.db import EXTENSION_KEY, Database
from marketplace.orders.access import participants
from marketplace.orders.models import MilestoneKind, Order, OrderState, Proposal
from marketplace.orders.posting.service import LineInput, OrderInput, create_order
from marketplace.orders.production.disputes import open_dispute
from marketplace.orders.production.documents import Upload
from marketplace.orders.production.service import add_milestone
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.matching import execute_run
from marketplace.payments.models import ConnectedAccount
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.conftest import savepoint_sessions

IN_LIST = re.compile(r"^\s*\(?\s*(\w+)\s+IN\s*\((.*)\)\s*\)?\s*$", re.IGNORECASE | re.DOTALL)


def id_tables() -> dict[str, sa.Table]:
    return {
        t.name: t
        for t in SQLModel.metadata.sorted_tables
        if "id" in t.c and list(t.primary_key.columns) == [t.c.id]
    }


class Ownership:
    """Which organizations each row belongs to, following foreign keys."""

    def __init__(self, session: Session) -> None:
        self.tables = id_tables()
        self.rows: dict[str, dict[int, sa.RowMapping]] = {
            name: {r["id"]: r for r in session.execute(sa.select(table)).mappings()}
            for name, table in self.tables.items()
        }
        self.member_of: dict[int, set[int]] = {}
        for m in session.exec(select(Membership)):
            self.member_of.setdefault(m.user_id, set()).add(m.organization_id)
        self._memo: dict[tuple[str, int], frozenset[int]] = {}

    def owners(self, table: str, row_id: int) -> frozenset[int]:
        key = (table, row_id)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = frozenset()  # cycle guard
        if table == "organization":
            result: set[int] = {row_id}
        elif table == "app_user":
            result = set(self.member_of.get(row_id, ()))
        else:
            row = self.rows.get(table, {}).get(row_id)
            result = set()
            if row is not None:
                for fk in self.tables[table].foreign_keys:
                    value = row[fk.parent.name]
                    target = fk.column.table.name
                    if value is not None and target in self.tables:
                        result |= self.owners(target, value)
        self._memo[key] = frozenset(result)
        return self._memo[key]


@dataclass
class Person:
    name: str
    role: Role | None
    organization_id: int | None
    member: Any = None  # tests.conftest.Member
    token: str | None = None  # machine clients


@dataclass
class World:
    victims: set[int]
    attackers: list[Person]
    owners_of_victims: list[Person]
    ownership: Ownership
    unseeded: dict[str, str] = field(default_factory=dict)


def _value_for(table: sa.Table, column: sa.Column, now: datetime) -> Any:
    for constraint in table.constraints:
        if isinstance(constraint, sa.CheckConstraint):
            match = IN_LIST.match(str(constraint.sqltext))
            if match and match.group(1) == column.name:
                return re.findall(r"'([^']*)'", match.group(2))[0]
    python_type = column.type.python_type if hasattr(column.type, "python_type") else str
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = str
    if python_type is bool:
        return False
    if python_type is int:
        return 1
    if python_type is float:
        return 0.5
    if python_type is Decimal:
        return Decimal("1")
    if python_type is datetime:
        return now + timedelta(days=1)
    if python_type is date:
        return (now + timedelta(days=14)).date()
    if python_type in (dict, list):
        return python_type()
    length = getattr(column.type, "length", None) or 40
    return f"seeded {table.name} {secrets.token_hex(3)}"[:length]


def _fill_empty_tables(session: Session, victims: dict[str, int]) -> dict[str, str]:
    """One row in each table where the demo left the victims nothing, pointing at the
    victims' rows."""
    unseeded: dict[str, str] = {}
    now = datetime.now(UTC)
    for name, table in id_tables().items():
        ownership = Ownership(session)
        if name == "organization" or any(
            ownership.owners(name, row_id) & set(victims.values())
            for row_id in ownership.rows.get(name, {})
        ):
            continue
        values: dict[str, Any] = {}
        problem = None
        for column in table.columns:
            if column.name == "id":
                continue
            fk = next(iter(column.foreign_keys), None)
            if fk is not None:
                target = fk.column.table.name
                if target == "organization":
                    is_buyer = any(w in column.name for w in ("buyer", "from", "opened"))
                    values[column.name] = victims["buyer" if is_buyer else "factory"]
                    continue
                candidates = [
                    row_id
                    for row_id in sorted(ownership.rows.get(target, {}))
                    if (owners := ownership.owners(target, row_id))
                    and owners <= set(victims.values())
                ]
                if candidates:
                    values[column.name] = candidates[0]
                elif not column.nullable:
                    problem = f"no victim row in {target} for {column.name}"
                continue
            if column.default is not None or column.server_default is not None:
                continue
            if column.nullable:
                continue
            values[column.name] = _value_for(table, column, now)
        if problem:
            unseeded[name] = problem
            continue
        error = _insert_some_variant(session, table, values)
        if error:
            unseeded[name] = error
    return unseeded


def _insert_some_variant(session: Session, table: sa.Table, values: dict[str, Any]) -> str:
    """Insert the row; when a constraint refuses it (say, "exactly one of these"), try
    again with only one of the optional references set. Returns the last error or ''."""
    optional = [c.name for c in table.columns if c.foreign_keys and c.nullable and c.name in values]
    variants = [values]
    variants += [
        {k: v for k, v in values.items() if k not in optional or k == keep} for keep in optional
    ]
    variants.append({k: v for k, v in values.items() if k not in optional})
    error = ""
    for variant in variants:
        try:
            with session.begin_nested():
                session.execute(sa.insert(table).values(**variant))
            return ""
        except sa.exc.SQLAlchemyError as failure:
            error = str(getattr(failure, "orig", failure)).splitlines()[0]
    return error


# Rows that follow from others (an order's money): they do not make an organization richer.
DERIVED_TABLES = {
    "payment",
    "refund",
    "payout",
    "connected_account",
    "gateway_operation",
    "gateway_event",
    "simulated_gateway_object",
    # The ledger records what the other rows did.
    "ledger_event",
}


def _richest(ownership: Ownership, organization_ids: list[int], exclude: set[int]) -> int:
    counts = dict.fromkeys(organization_ids, 0)
    for table, rows in ownership.rows.items():
        if table in DERIVED_TABLES:
            continue
        for row_id in rows:
            for owner in ownership.owners(table, row_id):
                if owner in counts:
                    counts[owner] += 1
    return max((c, -o, o) for o, c in counts.items() if o not in exclude)[2]


@pytest.fixture
def app(settings, engine, connection, tmp_path):  # type: ignore[no-untyped-def]
    """The test application, with uploaded documents in this test's own folder."""
    database = Database(engine, savepoint_sessions(connection))
    return create_app(
        settings, database=database, TESTING=True, ORDERS_UPLOAD_FOLDER=str(tmp_path / "uploads")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _real_objects_of_the_victims(app, session: Session, buyer: Any, factory_org: int) -> None:  # type: ignore[no-untyped-def]
    """What the demo does not make for a buyer, made the way the application makes it:
    an open order, a matching run that was built and solved (with its problem and plan),
    a dispute with evidence stored in the upload folder, and a capability of the victim
    factory that nothing is booked on. Rows the world would otherwise make up
    from column types name nothing the views can use."""
    who = principal_for(session, buyer.user.id, buyer.organization.id)
    assert who is not None

    def order(title: str) -> Order:
        line = LineInput(
            process_code="milling_3axis",
            material="aluminium",
            quantity=10,
            hours=Decimal("20"),
            length_mm=200,
            width_mm=100,
            height_mm=50,
        )
        data = OrderInput(
            title=title,
            due_date=utcnow().date() + timedelta(weeks=5),
            delivery_country="DE",
            delivery_latitude=48.78,
            delivery_longitude=9.18,
            lines=[line],
        )
        return create_order(session, who, data, submit=True)

    order("Open bracket order")
    matched = order("Matched bracket order")
    run = request_matching(session, who, matched.id, 1.0)
    session.commit()
    execute_run(app.extensions[EXTENSION_KEY], run.id, workers=1)
    session.expire_all()
    # A capability nothing is booked on, which its owner may drop.
    factory = session.exec(select(Factory).where(Factory.organization_id == factory_org)).first()
    if factory is not None:
        details = CapabilityDetails(
            process_code="anodizing",
            materials=("aluminium",),
            tolerance_class="ISO 2768-m",
            max_length_mm=500,
            max_width_mm=300,
            max_height_mm=200,
            batch_min=1,
            batch_max=1000,
            hourly_rate_minor=6500,
        )
        create_capability(session, factory, details)
    # A dispute with its evidence, on an order in production (the delivered one stays).
    disputed = session.exec(
        select(Order).where(
            Order.buyer_organization_id == who.organization_id,
            Order.state == OrderState.IN_PRODUCTION,
        )
    ).first()
    # Another order of the buyer in production, which it may still dispute: one of its
    # confirmed orders, started by its factories.
    confirmed = session.exec(
        select(Order)
        .where(
            Order.buyer_organization_id == who.organization_id,
            Order.state == OrderState.CONFIRMED,
        )
        .order_by(col(Order.id))
    ).first()
    if confirmed is not None:
        for working in participants(session, confirmed.id):  # type: ignore[arg-type]
            add_milestone(
                session,
                Principal(
                    organization_id=working.organization_id,
                    organization_kind=OrganizationKind.FACTORY,
                    role=Role.FACTORY_OWNER,
                ),
                confirmed.id,  # type: ignore[arg-type]
                MilestoneKind.STARTED,
                upload_folder=Path(app.config["ORDERS_UPLOAD_FOLDER"]),
                factory_id=working.id,
            )
    # The factory's payout account is not finished: its owner may go on with onboarding.
    account = session.exec(
        select(ConnectedAccount).where(
            col(ConnectedAccount.factory_id).in_(
                select(Factory.id).where(Factory.organization_id == factory_org)
            )
        )
    ).first()
    if account is not None:
        account.payouts_enabled = account.details_submitted = False
    if disputed is not None:
        open_dispute(
            session,
            who,
            disputed.id,
            "Half of the brackets arrived bent.",
            upload_folder=Path(app.config["ORDERS_UPLOAD_FOLDER"]),
            uploads=[Upload(filename="photos.pdf", data=PDF)],
        )
    session.commit()


@pytest.fixture
def world(app, db_session, make_member) -> World:  # type: ignore[no-untyped-def]
    seed_marketplace(db_session, DemoSpec(factories=6, orders=20, buyers=3, weeks=2, seed=5))
    db_session.flush()
    organizations = {o.id: o for o in db_session.exec(select(Organization))}
    by_kind = {
        kind: sorted(i for i, o in organizations.items() if o.kind == kind)
        for kind in OrganizationKind
    }
    ownership = Ownership(db_session)
    victim_buyer = _richest(ownership, by_kind[OrganizationKind.BUYER], set())
    victim_factory = _richest(ownership, by_kind[OrganizationKind.FACTORY], set())
    attacker_buyer = _richest(ownership, by_kind[OrganizationKind.BUYER], {victim_buyer})
    # The attacking factory works on none of the victim buyer's orders (a factory taking
    # part in an order sees it, by design).
    working_for_victim = set(
        db_session.exec(
            select(Factory.organization_id)
            .join(Proposal, col(Proposal.factory_id) == col(Factory.id))
            .join(Order, col(Order.id) == col(Proposal.order_id))
            .where(Order.buyer_organization_id == victim_buyer)
        ).all()
    )
    attacker_factory = _richest(
        ownership, by_kind[OrganizationKind.FACTORY], {victim_factory} | working_for_victim
    )
    operator_org = by_kind[OrganizationKind.OPERATOR][0]

    def member(kind: OrganizationKind, role: Role, organization_id: int) -> Any:
        return make_member(kind, role, organizations[organization_id])

    owners_of_victims = [
        Person("victim buyer", Role.BUYER_MEMBER, victim_buyer),
        Person("victim factory owner", Role.FACTORY_OWNER, victim_factory),
        Person("victim factory member", Role.FACTORY_MEMBER, victim_factory),
    ]
    attackers = [
        Person("buyer of another organization", Role.BUYER_MEMBER, attacker_buyer),
        Person("owner of another factory", Role.FACTORY_OWNER, attacker_factory),
        Person("member of another factory", Role.FACTORY_MEMBER, attacker_factory),
        Person("cluster operator", Role.OPERATOR, operator_org),
    ]
    for person in owners_of_victims + attackers:
        kind = OrganizationKind(organizations[person.organization_id].kind)
        person.member = member(kind, person.role, person.organization_id)

    # Machine clients: one of the victim factory (an object to attack), one attacking.
    create_client(db_session, organizations[victim_factory], "victim MES", list(SCOPES))
    machine, _ = create_client(db_session, organizations[attacker_factory], "MES", list(SCOPES))
    token = new_secret("fwt_")
    db_session.add(
        OAuthToken(
            client_pk=machine.id,
            token_hash=digest(token),
            scopes=" ".join(SCOPES),
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    attackers.append(
        Person(
            "machine client of another factory", Role.FACTORY_MEMBER, attacker_factory, None, token
        )
    )
    attackers.append(Person("anonymous", None, None))
    db_session.flush()
    with app.app_context():
        _real_objects_of_the_victims(app, db_session, owners_of_victims[0].member, victim_factory)

    unseeded = _fill_empty_tables(db_session, {"buyer": victim_buyer, "factory": victim_factory})
    db_session.commit()
    assert db_session.exec(select(OAuthClient)).all()
    return World(
        victims={victim_buyer, victim_factory},
        attackers=attackers,
        owners_of_victims=owners_of_victims,
        ownership=Ownership(db_session),
        unseeded=unseeded,
    )
