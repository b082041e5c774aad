"""The embedded default: on SQLite, appends from several threads at once still make one
chain in id order (each append takes the database's write lock first)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from factories import ledger
from marketplace.db import Database
from marketplace.migrate import upgrade


def test_concurrent_appends_on_sqlite_make_one_chain(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    database = Database.from_url(url)

    def append_some(worker: int) -> None:
        for n in range(15):
            with database.session() as session:
                # A read first, as a unit of work does: the transaction starts as a reader.
                ledger.last_hash(session)
                ledger.append(session, "test.event", {"worker": worker, "n": n})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(append_some, range(4)))
    with database.session() as session:
        result = ledger.verify(session)
    database.engine.dispose()
    assert result.intact and result.events == 60
