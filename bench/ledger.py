"""The ledger and credit on PostgreSQL: appends per second (one thread and several, each
transaction chaining its events under the advisory lock and refreshing the factory's
score, as the marketplace does), `ledger verify` in events per second, and the time to
compute one factory's score from its events.

    python bench/ledger.py [--transactions 2000] [--events 3] [--threads 4] [--factories 50]
                           [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a scratch database, migrates it, measures, drops it and prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor

from factories import ledger
from factories.credit.service import standing_of
from factories.ledger import EventKind
from factories.models import Factory
from marketplace.accounts.models import Organization, OrganizationKind
from marketplace.config import normalize_database_url
from marketplace.credit import records
from marketplace.db import Database
from marketplace.migrate import scratch_database


def make_factories(database: Database, count: int) -> list[int]:
    with database.session() as session:
        organization = Organization(kind=OrganizationKind.FACTORY, name="bench", country="DE")
        session.add(organization)
        session.flush()
        factories = [
            Factory(
                organization_id=organization.id or 0,
                name=f"bench {n}",
                country="DE",
                region="Bench",
                latitude=48.0,
                longitude=9.0,
            )
            for n in range(count)
        ]
        session.add_all(factories)
        session.flush()
        return [f.id or 0 for f in factories]


def transactions(database: Database, factory_ids: list[int], count: int, events: int) -> None:
    kinds = (EventKind.PROPOSAL_ACCEPTED, EventKind.DELIVERED, EventKind.QUALITY_ACCEPTED)
    for n in range(count):
        with database.session() as session:
            for k in range(events):
                records.record(
                    session,
                    kinds[k % len(kinds)],
                    factory_id=factory_ids[(n + k) % len(factory_ids)],
                    timeliness="on_time",
                    n=n,
                )


def timed_appends(database: Database, ids: list[int], args: argparse.Namespace, threads: int):  # type: ignore[no-untyped-def]
    per_thread = args.transactions // threads
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [
            pool.submit(transactions, database, ids, per_thread, args.events)
            for _ in range(threads)
        ]:
            future.result()
    seconds = time.perf_counter() - started
    return {
        "threads": threads,
        "transactions": per_thread * threads,
        "events": per_thread * threads * args.events,
        "seconds": round(seconds, 3),
        "transactions_per_s": round(per_thread * threads / seconds, 1),
        "events_per_s": round(per_thread * threads * args.events / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--events", type=int, default=3, help="events per transaction")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--factories", type=int, default=50)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    with scratch_database(
        normalize_database_url(args.database_url), "factoryweb_bench_ledger"
    ) as url:
        database = Database.from_url(url, pool_size=args.threads + 2)
        ids = make_factories(database, args.factories)
        one = timed_appends(database, ids, args, 1)
        many = timed_appends(database, ids, args, args.threads)
        with database.session() as session:
            started = time.perf_counter()
            result = ledger.verify(session)
            verify_s = time.perf_counter() - started
            started = time.perf_counter()
            standing = standing_of(session, ids[0])
            score_ms = (time.perf_counter() - started) * 1000
        database.engine.dispose()
    print(
        json.dumps(
            {
                "appends_one_thread": one,
                "appends_threads": many,
                "verify": {
                    "events": result.events,
                    "intact": result.intact,
                    "seconds": round(verify_s, 3),
                    "events_per_s": round(result.events / verify_s, 1),
                },
                "score_of_one_factory": {"events": standing.events, "ms": round(score_ms, 2)},
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
