"""Orders end to end: `factoryweb simulate` on PostgreSQL with Celery workers on Redis.

    python bench/orders.py [--orders 1000] [--factories 200] [--weeks 8] [--concurrency 8]
                           [--workers 2] [--batch 100] [--time-limit 2] [--no-celery]
                           [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                           [--broker redis://127.0.0.1:6379/0]

Creates a scratch database, migrates it, starts `celery --app marketplace.tasks worker`
(its own queue, `--workers` processes) against it, runs `factoryweb simulate --json`
with CELERY_BROKER_URL set (so every matching run and re-match goes through the broker),
stops the worker, drops the database and prints a JSON report: the simulation summary
plus throughput and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from marketplace.migrate import scratch_database
from marketplace.orders.workers.queue import worker_command

ROOT = Path(__file__).resolve().parents[1]


def simulate_with_workers(url: str, args: argparse.Namespace) -> tuple[dict, float]:
    """Run `factoryweb simulate` on `url`, with Celery workers unless --no-celery."""
    queue = f"factoryweb-bench-{secrets.token_hex(4)}"
    instance = tempfile.mkdtemp(prefix="factoryweb-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FACTORYWEB_INSTANCE": instance,
        "CELERY_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CELERY_BROKER_URL", None)
    if not args.no_celery:
        env["CELERY_BROKER_URL"] = args.broker
    worker = None
    try:
        if not args.no_celery:
            worker = subprocess.Popen(
                worker_command(queue, args.workers),
                cwd=ROOT,
                env=env,
                stdout=sys.stderr,
                stderr=sys.stderr,
                start_new_session=True,
            )
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "marketplace.cli",
                "simulate",
                "--factories",
                str(args.factories),
                "--orders",
                str(args.orders),
                "--weeks",
                str(args.weeks),
                "--seed",
                str(args.seed),
                "--concurrency",
                str(args.concurrency),
                "--batch",
                str(args.batch),
                "--time-limit",
                str(args.time_limit),
                "--json",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(result.returncode)
        summary = json.loads(result.stdout)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
    return summary, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--factories", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=8, help="factory workers")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--batch", type=int, default=100, help="orders per matching run")
    parser.add_argument("--time-limit", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--no-celery", action="store_true", help="runs in threads instead")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    with scratch_database(args.database_url, "factoryweb_bench_orders") as url:
        summary, elapsed = simulate_with_workers(url, args)

    report = {
        "benchmark": "orders end to end (factoryweb simulate)",
        "runs_via": "celery" if not args.no_celery else "threads",
        "celery_workers": None if args.no_celery else args.workers,
        "orders": summary["orders"],
        "factories": summary["factories"],
        "lines": summary["lines"],
        "wall_s": summary["wall_s"],
        "process_s": round(elapsed, 2),
        "orders_per_s": summary["orders_per_s"],
        "fill_rate": summary["fill_rate"],
        "overbooked_buckets": summary["overbooked_buckets"],
        "booking_mismatches": summary["booking_mismatches"],
        "summary": summary,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
