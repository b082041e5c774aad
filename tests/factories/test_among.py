"""`among`: a column among any number of ids, in one statement, on PostgreSQL (one
array parameter) and SQLite (a plain IN) alike."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import Factory, among


def test_more_ids_than_a_statement_has_parameters(db_session: Session, make_factory) -> None:
    factory = make_factory()
    db_session.flush()
    ids = [*range(-100_000, 0), factory.id]
    found = db_session.exec(select(Factory.id).where(among(col(Factory.id), ids))).all()
    assert found == [factory.id]
    assert db_session.exec(select(Factory.id).where(among(col(Factory.id), []))).all() == []
    deleted = db_session.execute(
        sa.delete(Factory).where(among(col(Factory.id), range(-100_000, 0)))
    ).rowcount
    assert deleted == 0


def test_on_sqlite_it_is_a_plain_in() -> None:
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": i} for i in (1, 2, 3)])
        rows = connection.execute(sa.select(table.c.id).where(among(table.c.id, [1, 3]))).all()
    assert [r[0] for r in rows] == [1, 3]
