"""Engine and sessions: one session per request, committed once when the request succeeds."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, Response, current_app, g
from sqlalchemy import event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

EXTENSION_KEY = "factoryweb.db"


class Database:
    def __init__(
        self, engine: sa.Engine, session_factory: sessionmaker[Session] | None = None
    ) -> None:
        self.engine = engine
        self.session_factory = session_factory or sessionmaker(
            engine, class_=Session, expire_on_commit=False
        )

    @classmethod
    def from_url(cls, url: str, **engine_options: object) -> Database:
        if url.startswith("sqlite"):
            engine_options.setdefault("connect_args", {"check_same_thread": False})
        else:
            engine_options.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(url, **engine_options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            # SQLite keeps Numeric as float; two decimal places of hours survive that fine.
            warnings.filterwarnings(
                "ignore", r".*does \*not\* support Decimal objects natively", exc.SAWarning
            )
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work outside a request (CLI, workers): commit on success, else roll back."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except exc.SQLAlchemyError:
            return False
        return True


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    # The driver would start a transaction only at the first write, so the reads before
    # it could see rows another thread changes meanwhile (a slot released twice). The
    # transaction starts here instead, at its first statement, holding SQLite's one
    # write lock: units of work on SQLite (the embedded mode) run one after another.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def init_app(app: Flask, database: Database) -> None:
    app.extensions[EXTENSION_KEY] = database

    @app.after_request
    def commit_request_session(response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return response
        try:
            if response.status_code < 400 and not g.pop("db_discard", False):
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()
        return response

    @app.teardown_request
    def discard_request_session(_error: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def database() -> Database:
    return current_app.extensions[EXTENSION_KEY]


def session() -> Session:
    """The request's session; views and services share it and never commit themselves."""
    if "db_session" not in g:
        g.db_session = database().session_factory()
    return g.db_session


def discard_changes() -> None:
    """The request failed part-way (a page that redirects after a refused step): undo
    what it wrote so far, and commit nothing of it when the request ends."""
    g.db_discard = True
    if "db_session" in g:
        g.db_session.rollback()
