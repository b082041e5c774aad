"""Buyer search benchmark: 10,000 factories x 12 weeks on PostgreSQL, timed per search.

    python bench/search.py [--factories 10000] [--weeks 12] [--searches 300] [--orders 500]
                           [--seed 7] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                           [--keep]

Creates a scratch database, migrates it (with the search indexes), seeds a demo cluster
with bulk inserts, runs VACUUM ANALYZE, then times a few hundred searches with three filters
each, twice: the search service alone, and the whole GET /api/v1/factories request
(authentication, validation, ranking, reasons, JSON) through the WSGI app. Prints a
JSON report with p50/p95/p99 latencies; the target is p95 <= 100 ms. Drops the database
at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

# `python bench/search.py` puts bench/ first on the path, where bench/matching.py would
# shadow the matching package: look for packages from the project root instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import sqlalchemy as sa  # noqa: E402
from sqlmodel import select  # noqa: E402

from factories.capacity.weeks import parse_week, week_label, weeks_from  # noqa: E402
from factories.models import Factory, FactoryStatus, utcnow  # noqa: E402
from factories.search.filters import SearchFilters  # noqa: E402
from factories.search.service import search_factories  # noqa: E402
from factories.taxonomy import CERTIFICATIONS, PROCESSES, materials_for  # noqa: E402
from marketplace.accounts.models import Organization  # noqa: E402
from marketplace.accounts.oauth import create_client  # noqa: E402
from marketplace.app import create_app  # noqa: E402
from marketplace.config import Settings, normalize_database_url  # noqa: E402
from marketplace.db import Database  # noqa: E402
from marketplace.migrate import scratch_database  # noqa: E402
from marketplace.tools.demo.data import DemoSpec  # noqa: E402
from marketplace.tools.demo.seed import seed_marketplace  # noqa: E402

TARGET_P95_MS = 100.0
OPTIONAL_FILTERS = (
    "region",
    "certification",
    "material",
    "min_free_hours",
    "min_credit",
    "envelope",
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values_ms, 50), 2),
        "p95_ms": round(percentile(values_ms, 95), 2),
        "p99_ms": round(percentile(values_ms, 99), 2),
        "mean_ms": round(statistics.fmean(values_ms), 2),
        "max_ms": round(max(values_ms), 2),
    }


def make_queries(
    rng: random.Random, count: int, regions: list[str], today: Any
) -> list[dict[str, Any]]:
    """Each search: a process and two more filters, over a 4-week window somewhere in the
    12 weeks ahead."""
    weeks = weeks_from(today, 12)
    queries = []
    for _ in range(count):
        process = rng.choice(sorted(PROCESSES))
        first = rng.randrange(0, 9)
        query: dict[str, Any] = {
            "process": process,
            "week_from": week_label(weeks[first]),
            "week_to": week_label(weeks[first + 3]),
        }
        for name in rng.sample(OPTIONAL_FILTERS, 2):
            if name == "region":
                query["region"] = rng.choice(regions)
            elif name == "certification":
                query["certification"] = rng.choice(["ISO9001", "ISO9001", *CERTIFICATIONS])
            elif name == "material":
                query["material"] = rng.choice(materials_for(process)).code
            elif name == "min_free_hours":
                query["min_free_hours"] = rng.choice([20, 80, 200])
            elif name == "min_credit":
                query["min_credit"] = rng.choice([0.6, 0.75, 0.85])
            elif name == "envelope":
                query["min_length_mm"] = rng.choice([150, 400, 1000])
        queries.append(query)
    return queries


def filters_of(query: dict[str, Any]) -> SearchFilters:
    values = dict(query)
    values["week_from"] = parse_week(values["week_from"])
    values["week_to"] = parse_week(values["week_to"])
    if "min_free_hours" in values:
        values["min_free_hours"] = Decimal(values["min_free_hours"])
    return SearchFilters(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

    with scratch_database(args.database_url, "factoryweb_bench_search", keep=args.keep) as url:
        report = run(url, args)
    if args.keep:
        report["database"] = url
    print(json.dumps(report, indent=2))


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    database = Database.from_url(url)
    started = time.perf_counter()
    with database.session() as session:
        seed_marketplace(
            session,
            DemoSpec(
                factories=args.factories, orders=args.orders, weeks=args.weeks, seed=args.seed
            ),
        )
    seed_s = time.perf_counter() - started
    # A steady-state database is vacuumed, so index-only scans skip the heap.
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    with database.engine.connect() as connection:
        rows = {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            for table in (
                "factory",
                "capability",
                "capability_material",
                "capacity_bucket",
                "certification",
            )
        }

    today = utcnow().date()
    rng = random.Random(args.seed)
    with database.session() as session:
        regions = sorted(
            set(
                session.exec(select(Factory.region).where(Factory.status == FactoryStatus.VERIFIED))
            )
        )
        factory_org = session.get(
            Organization, session.exec(select(Factory.organization_id)).first()
        )
        machine, secret = create_client(session, factory_org, "bench", ["orders:read"])
    queries = make_queries(rng, args.searches, regions, today)

    # The service alone, one session as a request would have.
    service_ms, totals = [], []
    with database.session() as session:
        for query in queries[:20]:  # warm caches and the connection
            search_factories(session, filters_of(query), today)
        for query in queries:
            session.expire_all()
            t0 = time.perf_counter()
            page = search_factories(session, filters_of(query), today)
            service_ms.append((time.perf_counter() - t0) * 1000)
            totals.append(page.total)

    # The whole request through the WSGI app, with a machine client's bearer token.
    settings = Settings(
        env="bench",
        database_url=normalize_database_url(url),
        secret_key=secrets.token_hex(16),
        celery_broker_url=None,
        stripe_api_key=None,
        stripe_api_base=None,
        stripe_webhook_secret=None,
    )
    app = create_app(settings, database=database)
    client = app.test_client()
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(machine.client_id, secret),
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    api_ms, statuses = [], {}
    for query in queries[:20]:
        client.get("/api/v1/factories", query_string=query, headers=headers)
    for query in queries:
        t0 = time.perf_counter()
        response = client.get("/api/v1/factories", query_string=query, headers=headers)
        api_ms.append((time.perf_counter() - t0) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    with database.engine.connect() as connection:
        indexes = [
            r[0]
            for r in connection.execute(
                sa.text(
                    "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_search_%' "
                    "ORDER BY indexname"
                )
            )
        ]
    database.engine.dispose()
    service = summary(service_ms)
    api = summary(api_ms)
    return {
        "benchmark": "buyer search, three filters",
        "database": "postgresql",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "factories": args.factories,
        "weeks": args.weeks,
        "rows": rows,
        "seed_s": round(seed_s, 1),
        "searches": len(queries),
        "filters_per_search": 3,
        "example_query": queries[0],
        "results_per_search": {
            "median": statistics.median(totals),
            "max": max(totals),
            "empty": sum(1 for t in totals if t == 0),
        },
        "service": service,
        "api": {**api, "statuses": statuses},
        "search_indexes": indexes,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": api["p95_ms"] <= TARGET_P95_MS,
    }


if __name__ == "__main__":
    main()
