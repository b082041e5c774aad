"""Bulk seeding benchmark: a large demo cluster on PostgreSQL, timed end to end.

    python bench/seed.py [--factories 10000] [--weeks 12] [--orders 2000]
                         [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a scratch database, migrates it, seeds, counts what went in, drops it again,
and prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import sqlalchemy as sa

from marketplace.db import Database
from marketplace.migrate import scratch_database
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

    with scratch_database(args.database_url, "factoryweb_bench") as url:
        database = Database.from_url(url)
        started = time.perf_counter()
        with database.session() as session:
            summary = seed_marketplace(
                session,
                DemoSpec(
                    factories=args.factories,
                    orders=args.orders,
                    weeks=args.weeks,
                    seed=args.seed,
                    buyers=50,
                ),
            )
        wall_s = time.perf_counter() - started
        with database.engine.connect() as connection:
            rows = {
                table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in (
                    "factory",
                    "capability",
                    "capability_material",
                    "capacity_bucket",
                    "certification",
                    "purchase_order",
                    "order_line",
                    "proposal",
                )
            }
        database.engine.dispose()

    report = {
        "benchmark": "seed-demo bulk insert",
        "database": "postgresql",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "factories": args.factories,
        "weeks": args.weeks,
        "orders": args.orders,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "wall_s": round(wall_s, 2),
        "rows_per_s": round(sum(rows.values()) / wall_s),
        "target_s": 60,
        "meets_target": wall_s < 60,
        "regions": summary.regions,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
