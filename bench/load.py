"""The marketplace under load: gunicorn and Celery on PostgreSQL, driven by locust.

    python bench/load.py [--factories 200] [--buyers 60] [--users 20,40,80,120,160]
                         [--seconds 45] [--web-workers 3] [--threads 4] [--celery-workers 1]
                         [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                         [--broker redis://127.0.0.1:6379/0] [--keep]

Creates a scratch database, seeds a cluster (demo data: factories, capacity, orders),
adds a signed-in account for each buyer and each factory owner, starts gunicorn (the
production web server, `app:app`) and a Celery worker for the matching runs, then runs
`bench/locustfile.py` headless once per number of concurrent users: buyers browse their
home and orders, search (page and API), post two-line orders and match them; factory
owners open their home, proposals and calendar and accept proposals. Statistics count
from the moment every user is signed in (locust --reset-stats).

Prints a JSON report: per step the requests per second, p50/p95/p99 of all requests and
of each kind, and the failures; and `held_users`, the largest number of concurrent users
with p95 under 300 ms and no failure. Sign-in rate limits count per client address, and
every simulated person comes from 127.0.0.1: the run raises them through RATELIMIT_LOGIN
(an operator's setting) so that the limit does not stand in for the marketplace.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# `python bench/load.py` puts bench/ first on the path, where bench/matching.py would
# shadow the matching package: look for packages from the project root instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import sqlalchemy as sa  # noqa: E402

from factories.capacity.weeks import week_label, weeks_from  # noqa: E402
from factories.models import utcnow  # noqa: E402
from marketplace.accounts.models import Membership, Organization, OrganizationKind, Role, User  # noqa: E402
from marketplace.accounts.passwords import hash_password  # noqa: E402
from marketplace.db import Database  # noqa: E402
from marketplace.migrate import scratch_database  # noqa: E402
from marketplace.orders.workers.queue import worker_command  # noqa: E402
from marketplace.tools.demo.data import DemoSpec  # noqa: E402
from marketplace.tools.demo.seed import seed_marketplace  # noqa: E402

TARGET_P95_MS = 300.0
PASSWORD = "load-" + secrets.token_hex(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=200)
    parser.add_argument("--orders", type=int, default=300, help="seeded orders")
    parser.add_argument("--buyers", type=int, default=60, help="buyer accounts")
    parser.add_argument("--users", default="20,40,80,120,160", help="concurrent users per step")
    parser.add_argument("--seconds", type=int, default=45, help="measured seconds per step")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--celery-workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    steps = [int(u) for u in args.users.split(",")]

    with scratch_database(args.database_url, "factoryweb_bench_load", keep=args.keep) as url:
        database = Database.from_url(url)
        started = time.perf_counter()
        scenario = seed(database, args)
        seed_s = time.perf_counter() - started
        database.engine.dispose()
        with tempfile.TemporaryDirectory(prefix="factoryweb-load-") as folder:
            work = Path(folder)
            scenario_file = work / "scenario.json"
            scenario_file.write_text(json.dumps(scenario))
            with servers(url, args, work) as base_url:
                results = [run_step(base_url, users, args, work, scenario_file) for users in steps]
    held = [r["users"] for r in results if r["p95_ms"] < TARGET_P95_MS and r["failures"] == 0]
    report = {
        "benchmark": "load",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_before": os.getloadavg(),
        "factories": args.factories,
        "web": {"workers": args.web_workers, "threads": args.threads},
        "celery_workers": args.celery_workers,
        "seed_s": round(seed_s, 1),
        "target_p95_ms": TARGET_P95_MS,
        "held_users": max(held, default=0),
        "steps": results,
    }
    print(json.dumps(report, indent=2))


def seed(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    """The cluster, an account per buyer organization and per factory owner, and the
    scenario's order lines (what verified factories make) and searches."""
    with database.session() as session:
        seed_marketplace(
            session,
            DemoSpec(factories=args.factories, orders=args.orders, weeks=12, seed=args.seed),
        )
        now = utcnow()
        password_hash = hash_password(PASSWORD)
        buyers: list[str] = []
        for n in range(args.buyers):
            organization = Organization(
                kind=OrganizationKind.BUYER, name=f"Load buyer {n}", country="DE", created_at=now
            )
            session.add(organization)
            session.flush()
            buyers.append(
                _account(
                    session,
                    f"buyer{n}@load.example",
                    organization,
                    Role.BUYER_MEMBER,
                    password_hash,
                )
            )
        owners: list[str] = []
        factory_of: dict[str, int] = {}
        rows = session.execute(
            sa.text(
                "SELECT f.id, f.organization_id FROM factory f WHERE f.status = 'verified' "
                "ORDER BY f.id"
            )
        ).all()
        for factory_id, organization_id in rows:
            organization = session.get(Organization, organization_id)
            email = f"owner{factory_id}@load.example"
            owners.append(_account(session, email, organization, Role.FACTORY_OWNER, password_hash))
            factory_of[email] = factory_id
        lines = [
            {"process_code": process, "material": material}
            for process, material in session.execute(
                sa.text(
                    "SELECT DISTINCT c.process_code, m.material FROM capability c "
                    "JOIN capability_material m ON m.capability_id = c.id "
                    "JOIN factory f ON f.id = c.factory_id "
                    "WHERE f.status = 'verified' AND c.currency = 'EUR' ORDER BY 1, 2"
                )
            ).all()
        ]
        places = [
            {"country": country, "city": city, "latitude": lat, "longitude": lon}
            for country, city, lat, lon in session.execute(
                sa.text(
                    "SELECT DISTINCT country, city, latitude, longitude FROM factory "
                    "ORDER BY 1, 2 LIMIT 50"
                )
            ).all()
        ]
        session.commit()
    weeks = weeks_from(utcnow().date(), 12)
    processes = sorted({line["process_code"] for line in lines})
    searches = [
        {"process": process, "week_from": week_label(weeks[i]), "week_to": week_label(weeks[i + 3])}
        for process in processes
        for i in (0, 4, 8)
    ]
    return {
        "password": PASSWORD,
        "buyers": buyers,
        "owners": owners,
        "factory_of": factory_of,
        "lines": lines,
        "places": places,
        "searches": searches,
    }


def _account(
    session: Any, email: str, organization: Organization, role: Role, password_hash: str
) -> str:
    user = User(email=email, password_hash=password_hash, display_name=email.split("@")[0])
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, organization_id=organization.id, role=role))
    return email


class servers:
    """gunicorn serving `app:app` and a Celery worker, on the scratch database."""

    def __init__(self, url: str, args: argparse.Namespace, work: Path) -> None:
        self.port = _free_port()
        queue = f"factoryweb-load-{secrets.token_hex(4)}"
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(32),
            "FACTORYWEB_INSTANCE": str(work),
            "CELERY_BROKER_URL": args.broker,
            "CELERY_QUEUE": queue,
            "RATELIMIT_LOGIN": "100000 per minute",
            "PYTHONPATH": str(ROOT),
        }
        self.commands = [
            [
                sys.executable,
                "-m",
                "gunicorn",
                "app:app",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(args.web_workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(args.threads),
                # Longer than a person's pause between pages: a kept-alive connection
                # the server closes just as the browser reuses it is a reset.
                "--keep-alive",
                "10",
                "--log-level",
                "warning",
            ],
            worker_command(queue, args.celery_workers),
        ]
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> str:
        for command in self.commands:
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdout=sys.stderr,
                    stderr=sys.stderr,
                    start_new_session=True,
                )
            )
        base_url = f"http://127.0.0.1:{self.port}"
        _wait_for(base_url + "/healthz")
        return base_url

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def run_step(
    base_url: str, users: int, args: argparse.Namespace, work: Path, scenario_file: Path
) -> dict[str, Any]:
    prefix = work / f"users{users}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "--only-summary",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 5)),
            # The scenario stops the run args.seconds after the last sign-in; this is a
            # backstop should sign-ins never finish.
            "--run-time",
            f"{args.seconds + 600}s",
            "--host",
            base_url,
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "LOAD_SCENARIO": str(scenario_file), "LOAD_SECONDS": str(args.seconds)},
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
        check=False,
    )
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = list(csv.DictReader(stats))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return {
        "users": users,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "requests_per_s": round(float(total["Requests/s"]), 1),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "load_after": os.getloadavg()[0],
        "by_request": {
            f"{r['Type']} {r['Name']}": {
                "requests": int(r["Request Count"]),
                "failures": int(r["Failure Count"]),
                "p50_ms": float(r["50%"]),
                "p95_ms": float(r["95%"]),
            }
            for r in rows
            if r["Name"] != "Aggregated" and int(r["Request Count"])
        },
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the web server did not answer {url} within {seconds:.0f} s")


if __name__ == "__main__":
    main()
