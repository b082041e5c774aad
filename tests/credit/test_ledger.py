"""The ledger: an order's life is written to it by the services, the chain verifies,
and tampering with any row (payload, hash, prev_hash, a row removed) is found and named.
On PostgreSQL a trigger refuses UPDATE and DELETE; the tampering tests switch it off
inside their own transaction, which is rolled back."""

from __future__ import annotations

import itertools
import json

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from factories import ledger
from factories.ledger import EventKind
from factories.models import Factory, LedgerEvent, utcnow
from factories.profile.reader import import_profile
from factories.profile.schema import Credit
from factories.profile.writer import export_profile
from marketplace.credit import records

NOW = utcnow()


def events(db_session) -> list[LedgerEvent]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(db_session.exec(select(LedgerEvent).order_by(col(LedgerEvent.id))))


def test_an_order_from_submission_to_delivery_is_in_the_ledger(db_session, delivered):
    rows = [e for e in events(db_session) if e.order_id == delivered.id]
    kinds = [e.kind for e in rows]
    first, second = delivered.shops
    assert kinds[0] == EventKind.ORDER_SUBMITTED
    assert kinds.count(EventKind.PROPOSAL_ACCEPTED) == 2
    assert kinds.count(EventKind.PAID) == 1
    assert kinds.count(EventKind.ORDER_CONFIRMED) == 2
    assert kinds.count(EventKind.MILESTONE) == 6
    assert kinds.count(EventKind.DELIVERED) == 2
    assert kinds.count(EventKind.QUALITY_ACCEPTED) == 2
    delivery = next(e for e in rows if e.kind == EventKind.DELIVERED and e.factory_id == first.id)
    assert delivery.payload["timeliness"] == "on_time"
    assert delivery.payload["days_late"] == 0
    assert kinds.index(EventKind.PAID) < kinds.index(EventKind.ORDER_CONFIRMED)
    # The chain: each event links to the one before, in id order.
    chain = events(db_session)
    assert chain[0].prev_hash == ledger.GENESIS
    for before, after in itertools.pairwise(chain):
        assert after.prev_hash == before.hash
    assert ledger.verify(db_session).intact
    # Earned: both factories rose above the newcomer's prior.
    for shop in (first, second):
        assert db_session.get_one(Factory, shop.id).credit_score > 0.7


def test_hashes_survive_the_jsonb_round_trip(db_session, make_shop):
    shop = make_shop()
    ledger.append(
        db_session,
        "test.event",
        {"b": "zwei", "a": 1, "nested": {"z": [1, "二", None, True]}, "big": 2**62},
        factory_id=shop.id,
    )
    db_session.commit()
    assert ledger.verify(db_session).intact


def test_floats_are_refused(db_session):
    with pytest.raises(ledger.LedgerValueError, match=r"payload\.score"):
        ledger.append(db_session, "test.event", {"score": 0.5})


@pytest.fixture
def chain(db_session, make_shop) -> list[LedgerEvent]:  # type: ignore[no-untyped-def]
    shop = make_shop()
    for n in range(5):
        ledger.append(db_session, "test.event", {"n": n}, factory_id=shop.id)
    db_session.commit()
    return events(db_session)


@pytest.fixture
def tamper(connection):  # type: ignore[no-untyped-def]
    """Runs SQL on the ledger with its trigger off (in the test's transaction only)."""
    connection.execute(sa.text("ALTER TABLE ledger_event DISABLE TRIGGER ledger_event_append_only"))

    def run(statement: str, **params: object) -> None:
        connection.execute(sa.text(statement), params)

    return run


@pytest.mark.parametrize(
    ("statement", "broken_at", "problem"),
    [
        (
            "UPDATE ledger_event SET payload = CAST(:payload AS jsonb) WHERE id = :id",
            0,
            "content",
        ),
        ("UPDATE ledger_event SET hash = :fake WHERE id = :id", 0, "content"),
        ("UPDATE ledger_event SET prev_hash = :fake WHERE id = :id", 0, "link"),
        ("UPDATE ledger_event SET kind = 'other.kind' WHERE id = :id", 0, "content"),
        ("DELETE FROM ledger_event WHERE id = :id", 1, "link"),
    ],
    ids=["payload", "hash", "prev_hash", "kind", "deleted"],
)
def test_tampering_is_found_and_named(
    db_session, app, chain, tamper, statement, broken_at, problem
):
    victim = chain[2]
    tamper(
        statement,
        id=victim.id,
        payload=json.dumps({"n": 99}),
        fake="f" * 64,
    )
    named = chain[2 + broken_at].id
    result = ledger.verify(db_session)
    assert result.broken == ledger.Break(named, problem)
    assert ledger.first_broken(db_session) == named
    # The command says the same, and exits 1.
    answer = app.test_cli_runner().invoke(args=["ledger", "verify", "--json"])
    assert answer.exit_code == 1, answer.output
    assert json.loads(answer.output)["broken"] == {"event_id": named, "problem": problem}
    text = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert text.exit_code == 1 and f"broken at event {named}" in text.output


def test_an_intact_ledger_verifies_from_the_command_line(app, chain):
    answer = app.test_cli_runner().invoke(args=["ledger", "verify", "--json"])
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.output)
    assert report["intact"] is True and report["broken"] is None
    assert report["events"] == len(chain) and report["last_hash"] == chain[-1].hash


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_event SET payload = '{}' WHERE id = :id",
        "UPDATE ledger_event SET hash = hash WHERE id = :id",
        "DELETE FROM ledger_event WHERE id = :id",
    ],
)
def test_the_trigger_refuses_update_and_delete(connection, chain, statement):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), connection.begin_nested():
        connection.execute(sa.text(statement), {"id": chain[1].id})
    with connection.begin_nested():
        row = connection.execute(
            sa.text("SELECT payload FROM ledger_event WHERE id = :id"), {"id": chain[1].id}
        ).one()
    assert row.payload == {"n": 1}


def test_the_chain_cannot_fork(connection, chain):
    """A second event after the same one is refused by the unique prev_hash."""
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        connection.execute(
            sa.text(
                "INSERT INTO ledger_event (occurred_at, kind, payload, prev_hash, hash) "
                "VALUES (now(), 'fork', '{}', :prev, :hash)"
            ),
            {"prev": chain[2].hash, "hash": "e" * 64},
        )


def test_a_restored_profile_does_not_set_credit(db_session, delivered):
    """Credit is earned: a restore from a file that claims a perfect score keeps the
    score the factory's ledger events give, and so does an owner's import."""
    factory = db_session.get_one(Factory, delivered.shops[0].id)
    earned = factory.credit_score
    profile = export_profile(db_session, factory)
    claimed = profile.model_copy(update={"credit": Credit(score=1.0)})
    import_profile(db_session, claimed, None, NOW.date(), NOW, restore=True)
    db_session.flush()
    assert db_session.get_one(Factory, factory.id).credit_score == earned != 1.0
    factory.credit_score = 0.1  # a stale cache is put right by a restore, from the ledger
    import_profile(db_session, claimed, None, NOW.date(), NOW, restore=True)
    assert db_session.get_one(Factory, factory.id).credit_score == earned


def test_events_of_a_rolled_back_transaction_are_not_appended(db_session, make_shop):
    shop = make_shop()
    before = len(events(db_session))
    records.record(db_session, EventKind.PROPOSAL_DECLINED, factory_id=shop.id, note="gone")
    db_session.rollback()
    records.record(db_session, EventKind.PROPOSAL_ACCEPTED, factory_id=shop.id)
    db_session.commit()
    after = events(db_session)[before:]
    assert [e.kind for e in after] == [EventKind.PROPOSAL_ACCEPTED]
    assert ledger.verify(db_session).intact
