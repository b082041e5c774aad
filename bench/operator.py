"""Operator benchmark: a 300-factory cluster on PostgreSQL; the dashboard and network
pages timed through the WSGI app, and what-if outages (the most critical factory, the
busiest region) timed end to end, and applying each (rolled back).

    python bench/operator.py [--factories 300] [--orders 1500] [--weeks 12] [--seed 7]
                             [--requests 10] [--time-limit 10] [--workers 2]
                             [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                             [--keep]

Creates a scratch database, migrates it, seeds a demo cluster, signs in as the demo
operator and requests each page `--requests` times (after one warm-up): the targets are
pages under 1 s and a what-if under 30 s on 2 cores. Prints a JSON report; drops the
database at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# `python bench/operator.py` puts bench/ first on the path, where bench/matching.py would
# shadow the matching package: look for packages from the project root instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import sqlalchemy as sa  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from factories.models import Factory, FactoryStatus, utcnow  # noqa: E402
from marketplace.app import create_app  # noqa: E402
from marketplace.config import Settings, normalize_database_url  # noqa: E402
from marketplace.db import Database  # noqa: E402
from marketplace.migrate import scratch_database  # noqa: E402
from marketplace.operator.network.reports import compute_report  # noqa: E402
from marketplace.operator.network.service import network  # noqa: E402
from marketplace.operator.whatif.apply import apply_outage  # noqa: E402
from marketplace.operator.whatif.service import what_if  # noqa: E402
from marketplace.operator.whatif.target import outage_of  # noqa: E402
from marketplace.orders.models import Proposal, ProposalState  # noqa: E402
from marketplace.orders.setup import DISPATCHER_KEY  # noqa: E402
from marketplace.tools.demo.cluster import demo_logins  # noqa: E402
from marketplace.tools.demo.data import DemoSpec  # noqa: E402
from marketplace.tools.demo.seed import seed_marketplace  # noqa: E402

PAGE_TARGET_S = 1.0
WHATIF_TARGET_S = 30.0
PAGES = ("/operator", "/operator/network", "/operator/utilization.csv", "/operator/network.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=300)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    with scratch_database(args.database_url, "factoryweb_bench_operator", keep=args.keep) as url:
        report = run(url, args)
    if args.keep:
        report["database"] = url
    print(json.dumps(report, indent=2))


def timed(action: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = action()
    return time.perf_counter() - t0, result


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    database = Database.from_url(url)
    seed_s, _ = timed(lambda: _seed(database, args))
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    with database.engine.connect() as connection:
        rows = {
            t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("factory", "capacity_bucket", "purchase_order", "order_line", "proposal")
        }
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
    _sign_in(client)
    pages: dict[str, Any] = {}
    for path in PAGES:
        response = client.get(path)  # warm-up
        assert response.status_code == 200, (path, response.status_code)
        seconds = []
        for _ in range(args.requests):
            elapsed, response = timed(lambda p=path: client.get(p))
            assert response.status_code == 200
            seconds.append(elapsed)
        pages[path] = _summary(seconds)
    with database.session() as session:
        now = utcnow()
        report_s, row = timed(lambda: compute_report(session, now.date(), now))
        report_figures = {
            k: row.report[k] for k in ("completeness", "smoothness", "control", "recovery")
        }

    today = utcnow().date()
    whatifs = []
    with database.session() as session:
        net = network(session, today)
        busiest_region = session.exec(
            select(Factory.region, sa.func.sum(Proposal.hours))
            .join(Proposal, col(Proposal.factory_id) == col(Factory.id))
            .where(
                col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
                Factory.status == FactoryStatus.VERIFIED,
            )
            .group_by(col(Factory.region))
            .order_by(sa.func.sum(Proposal.hours).desc())
        ).first()
        targets = [{"factory": str(net.most_critical)}]
        if busiest_region is not None:
            targets.append({"region": busiest_region[0]})
        for target in targets:

            def one(target: dict[str, str] = target) -> Any:
                outage = outage_of(session, today, **target)
                return what_if(
                    session, outage, today, time_limit_s=args.time_limit, workers=args.workers
                )

            elapsed, result = timed(one)
            session.rollback()
            # Applying it (then rolled back): paid work not in production moves too.
            with app.app_context():  # the run it queues needs the app's dispatcher
                apply_s, applied = timed(
                    lambda target=target: apply_outage(
                        session, outage_of(session, today, **target), today, utcnow()
                    )
                )
                session.rollback()
            answer = result.as_json()
            whatifs.append(
                {
                    "target": target,
                    "factories_offline": len(result.outage.factory_ids),
                    "affected_orders": len(answer["affected_orders"]),
                    "in_production": len(answer["in_production"]),
                    "jobs": len({a["job"] for a in (result.plan or {}).get("assignments", [])}),
                    "fill_before": answer["fill_before"],
                    "fill_lost": answer["fill_lost"],
                    "fill_after": answer["fill_after"],
                    "recovery": answer["recovery"],
                    "unsaved_orders": len(answer["unsaved_orders"]),
                    "engine_s": answer["solve_s"],
                    "wall_s": round(elapsed, 2),
                    "meets_target": elapsed < WHATIF_TARGET_S,
                    "apply_s": round(apply_s, 2),
                    "applied_orders": len(applied.rematched_orders),
                    "applied_paid_orders": len(applied.paid_orders),
                    "applied_withdrawn_proposals": len(applied.withdrawn_proposals),
                    "applied_orders_to_handle": len(applied.to_handle),
                }
            )
    # The web process's housekeeping started with the first request: stop it before the
    # scratch database goes.
    app.extensions[DISPATCHER_KEY].stop_housekeeping()
    database.engine.dispose()
    return {
        "benchmark": "operator pages and what-if outages",
        "database": "postgresql",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "factories": args.factories,
        "orders": args.orders,
        "weeks": args.weeks,
        "rows": rows,
        "seed_s": round(seed_s, 1),
        "pages": pages,
        "network_report_s": round(report_s, 2),
        "network_report": report_figures,
        "whatif_time_limit_s": args.time_limit,
        "whatif": whatifs,
        "pages_meet_target": all(p["max_s"] < PAGE_TARGET_S for p in pages.values()),
        "whatif_meets_target": all(w["meets_target"] for w in whatifs),
    }


def _seed(database: Database, args: argparse.Namespace) -> None:
    with database.session() as session:
        seed_marketplace(
            session,
            DemoSpec(
                factories=args.factories, orders=args.orders, weeks=args.weeks, seed=args.seed
            ),
        )


def _sign_in(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    email, password = demo_logins()["operator"]
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def _summary(seconds: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


if __name__ == "__main__":
    main()
