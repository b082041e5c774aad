"""A national marketplace's matching run on PostgreSQL, solved in parts by Celery
workers on Redis, timed end to end.

    python bench/national.py [--factories 10000] [--jobs 100000] [--weeks 12]
                             [--workers 2] [--time-limit 300] [--lp-sample 6]
                             [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                             [--broker redis://127.0.0.1:6379/0]

Creates a scratch database, seeds the factories as `bench/seed.py` does (the demo
cluster, bulk-inserted) and open orders with `--jobs` lines all over the cluster's
regions, starts `celery --app marketplace.tasks worker --concurrency N`, queues one
run for every order and waits for it. Prints JSON: wall time and its phases (building
the problem, solving the parts, merging and applying), the resident memory high-water
mark of every process, the plan's fill, the parts' sizes and times, the fill and cost
of a sample of parts against their LP bound, and a projection to 16 workers: the
measured part times scheduled longest first onto 16 workers, plus the measured serial
phases.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import random
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

# Run as a script, bench/ comes first on the path and bench/matching.py would shadow
# the engine: the repository root first, bench/ not at all.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import sqlalchemy as sa  # noqa: E402
from sqlmodel import col, select  # noqa: E402

import matching  # noqa: E402
from factories.capacity.weeks import monday_of  # noqa: E402
from factories.models import Capability, CapabilityMaterial, Factory, utcnow  # noqa: E402
from marketplace.accounts.models import Organization, OrganizationKind  # noqa: E402
from marketplace.bulk import insert_rows  # noqa: E402
from marketplace.db import Database  # noqa: E402
from marketplace.migrate import scratch_database  # noqa: E402
from marketplace.orders.models import (  # noqa: E402
    MatchRun,
    MatchRunFanout,
    MatchRunPart,
    MatchRunState,
    Order,
    OrderLine,
    OrderState,
)
from marketplace.orders.runs.service import start_run  # noqa: E402
from marketplace.orders.workers.dispatchers import CeleryDispatcher  # noqa: E402
from marketplace.orders.workers.queue import worker_command  # noqa: E402
from marketplace.tools.demo.data import PART_NAMES, REGIONS, DemoSpec  # noqa: E402
from marketplace.tools.demo.seed import seed_marketplace  # noqa: E402
from matching.bound import lp_bound, lp_min_cost  # noqa: E402
from matching.instance import compile_problem  # noqa: E402

TARGET_S = 15 * 60
TARGET_16_S = 5 * 60


def seed(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    """Factories of the demo cluster, then open orders whose lines fit some of them."""
    started = time.perf_counter()
    with database.session() as session:
        seed_marketplace(
            session,
            DemoSpec(
                factories=args.factories,
                orders=0,
                weeks=args.weeks,
                seed=args.seed,
                buyers=50,
                logins=False,
                payout_accounts=False,
            ),
        )
    factories_s = time.perf_counter() - started
    rng = random.Random(args.seed)
    with database.session() as session:
        models = session.exec(
            select(Capability, CapabilityMaterial.material)
            .join(CapabilityMaterial, col(CapabilityMaterial.capability_id) == col(Capability.id))
            .join(Factory, col(Factory.id) == col(Capability.factory_id))
            .where(Factory.status == "verified")
        ).all()
        buyers = list(
            session.exec(select(Organization.id).where(Organization.kind == OrganizationKind.BUYER))
        )
        now = utcnow()
        first = monday_of(now.date())
        orders, lines = [], []
        while len(lines) < args.jobs:
            region = rng.choice(REGIONS)
            city, lat, lon = rng.choice(region.cities)
            index = len(orders)
            orders.append(
                {
                    "buyer_organization_id": rng.choice(buyers),
                    "title": f"{rng.choice(PART_NAMES)} batch {index}",
                    "state": OrderState.OPEN,
                    "due_date": first + timedelta(weeks=rng.randint(2, args.weeks - 1), days=4),
                    "delivery_country": region.country,
                    "delivery_city": city,
                    "delivery_latitude": lat,
                    "delivery_longitude": lon,
                    "budget_minor": None,
                    "currency": "EUR",
                    "min_credit": rng.choice((0.0, 0.0, 0.0, 0.5, 0.7)),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for line_no in range(1, rng.choice((1, 2, 2, 3)) + 1):
                capability, material = rng.choice(models)
                lines.append(
                    {
                        "order_index": index,
                        "line_no": line_no,
                        "process_code": capability.process_code,
                        "material": material,
                        "quantity": rng.choice((1, 5, 10, 25, 50, 100)),
                        "hours": Decimal(
                            f"{max(2.0, min(300.0, rng.lognormvariate(3.0, 0.9))):.1f}"
                        ),
                        "length_mm": int(capability.max_length_mm * rng.uniform(0.1, 0.5)),
                        "width_mm": int(capability.max_width_mm * rng.uniform(0.1, 0.5)),
                        "height_mm": max(1, int(capability.max_height_mm * rng.uniform(0.1, 0.5))),
                        "tolerance_class": "ISO 2768-c",
                        "certifications_required": [],
                        "splittable": rng.random() < 0.4,
                    }
                )
        del lines[args.jobs :]
        order_ids = insert_rows(session, Order, orders)
        for row in lines:
            row["order_id"] = order_ids[row.pop("order_index")]
        insert_rows(session, OrderLine, lines)
    return {
        "factories_s": round(factories_s, 1),
        "orders_s": round(time.perf_counter() - started - factories_s, 1),
        "orders": len(orders),
        "order_lines": len(lines),
    }


def start_worker(url: str, args: argparse.Namespace, queue: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": args.broker,
        "CELERY_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
        "FACTORYWEB_INSTANCE": tempfile.mkdtemp(prefix="factoryweb-national-"),
        "MATCH_FANOUT_SLOTS": str(args.workers),
        "MATCH_PART_MAX_TERMS": str(args.max_part_terms),
        "MATCH_FANOUT_MIN_TERMS": "1",  # in parts at every size, to compare sizes
        # A part can take minutes: the run is alive as long as some part beats.
        "RUN_SILENCE_S": str(max(120, 4 * args.time_limit)),
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            worker_command(queue, args.workers),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def high_water_kb(pid: int) -> dict[int, int]:
    """VmHWM of a process and its children (the worker's pool processes)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(entry.name) == pid or int(fields.get("PPid", "0").strip()) == pid:
            found[int(entry.name)] = int(fields.get("VmHWM", "0 kB").split()[0])
    return found


def run_national(
    database: Database, args: argparse.Namespace, queue: str
) -> tuple[int, float, dict]:
    with database.session() as session:
        session.info["dispatcher"] = CeleryDispatcher(args.broker, queue)
        orders = list(session.exec(select(Order).where(Order.state == OrderState.OPEN)))
        run = start_run(session, orders, time_limit_s=args.time_limit)
        run_id = run.id
    started = time.perf_counter()
    while True:
        time.sleep(1.0)
        with database.session() as session:
            state = session.exec(select(MatchRun.state).where(MatchRun.id == run_id)).one()
            checked = session.exec(
                select(MatchRunFanout.checked_at).where(MatchRunFanout.match_run_id == run_id)
            ).first()
        if state in (MatchRunState.SUCCEEDED, MatchRunState.FAILED) or (
            args.stop_after_check and checked is not None
        ):
            return run_id, time.perf_counter() - started
        if time.perf_counter() - started > args.give_up:
            raise SystemExit(f"run {run_id} still {state} after {args.give_up} s")


def lp_sample(parts: list[dict[str, Any]], size: int) -> dict[str, Any]:
    """Fill and cost of the largest uncut parts against their LP bound (an uncut part
    is a whole independent group, so its LP is its share of the whole problem's)."""
    rows = []
    for part in sorted((p for p in parts if ".r" not in p["key"]), key=lambda p: -p["terms"])[
        :size
    ]:
        problem = matching.Problem.model_validate(part["problem"])
        instance = compile_problem(problem)
        plan = matching.load_plan(part["plan"])
        bound = lp_bound(instance)
        weighted = plan.fill * sum(j.priority for j in problem.jobs)
        at_fill = lp_min_cost(instance, weighted)
        rows.append(
            {
                "part": part["key"],
                "jobs": part["jobs"],
                "fill_vs_lp": round(weighted / bound.fill, 4) if bound.fill else 1.0,
                "cost_vs_lp": round(plan.objective / at_fill, 4) if at_fill else 1.0,
            }
        )
    jobs = sum(r["jobs"] for r in rows) or 1
    return {
        "parts": rows,
        "fill_vs_lp": round(sum(r["fill_vs_lp"] * r["jobs"] for r in rows) / jobs, 4),
        "cost_vs_lp": round(sum(r["cost_vs_lp"] * r["jobs"] for r in rows) / jobs, 4),
    }


def longest_first(seconds: list[float], workers: int) -> float:
    """Makespan of the times scheduled longest first onto `workers` (LPT)."""
    loads = [0.0] * workers
    for s in sorted(seconds, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + s)
    return max(loads)


def report(database: Database, run_id: int, wall_s: float, args, seeded, peaks) -> dict[str, Any]:
    with database.session() as session:
        run = session.get(MatchRun, run_id)
        fanout = session.get(MatchRunFanout, run_id)
        parts = [
            {
                "key": p.key,
                "jobs": p.jobs,
                "terms": p.terms,
                "time_limit_s": round(p.time_limit_s, 1),
                "solve_s": p.solve_s,
                "peak_rss_mb": round((p.peak_rss_kb or 0) / 1024),
                "problem": p.problem,
                "plan": p.plan,
            }
            for p in session.exec(
                select(MatchRunPart)
                .where(MatchRunPart.match_run_id == run_id)
                .order_by(col(MatchRunPart.part_no))
            )
        ]
        stored = session.execute(
            sa.text("SELECT length(problem) FROM match_run WHERE id = :id"), {"id": run_id}
        ).scalar_one()
        plan = run.plan or {}
        solved_at = session.exec(
            select(sa.func.max(MatchRunPart.finished_at)).where(MatchRunPart.match_run_id == run_id)
        ).one()
        moments = [run.started_at, fanout.created_at if fanout else None, solved_at]
        moments += [fanout.checked_at if fanout else None, run.finished_at]
        phases = dict(
            zip(
                ("build_and_store_parts", "solve_parts", "merge_reconcile_check", "apply"),
                (_seconds(a, b) for a, b in pairwise(moments)),
                strict=True,
            )
        )
        build_s = phases["build_and_store_parts"]
        merge_s = phases["merge_reconcile_check"]
        result: dict[str, Any] = {
            "benchmark": "national matching run in parts on Celery",
            "database": "postgresql",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "factories": args.factories,
            "jobs": args.jobs,
            "weeks": args.weeks,
            "celery_workers": args.workers,
            "time_limit_s": args.time_limit,
            "seeding": seeded,
            "run_state": run.state,
            "error": run.error,
            "wall_s": round(wall_s, 1),
            # From the run's start (the worker took it) to its end; apply None: not
            # waited for (--stop-after-check) or the run failed before.
            "phases_s": phases,
            "problem": {
                "jobs": len(run.problem.get("jobs", [])),
                "capacity_lines": len(run.problem.get("factories", [])),
                "options": sum(len(j["options"]) for j in run.problem.get("jobs", [])),
                "stored_bytes": stored,
            },
            "plan": {
                "status": plan.get("status"),
                # Before it is applied, the merged plan's figures are the run's progress.
                "fill": plan.get("fill", run.progress.get("fill")),
                "cost": plan.get("objective", run.progress.get("cost")),
                "assignments": len(plan.get("assignments", [])),
                "outcome": run.outcome,
            },
            "peak_rss_mb": {
                "bench": round(_self_peak_kb() / 1024),
                **{str(k): round(v / 1024) for k, v in peaks.items()},
            },
        }
    solve_times = [p["solve_s"] or 0.0 for p in parts]
    serial = (build_s or 0) + (merge_s or 0)
    result["parts"] = [{k: v for k, v in p.items() if k not in ("problem", "plan")} for p in parts]
    result["projection_16_workers"] = {
        "note": (
            "measured part times scheduled longest first on 16 workers, "
            "plus the measured build and merge (apply not included)"
        ),
        "solve_s": round(longest_first(solve_times, 16), 1),
        "wall_s": round(longest_first(solve_times, 16) + serial, 1),
        "target_s": TARGET_16_S,
    }
    result["projection_16_workers"]["meets_target"] = (
        result["projection_16_workers"]["wall_s"] < TARGET_16_S
    )
    result["target_s"] = TARGET_S
    result["meets_target"] = run.state != MatchRunState.FAILED and wall_s < TARGET_S
    if args.lp_sample:
        result["lp_sample"] = lp_sample(parts, args.lp_sample)
    return result


def _seconds(start: Any, end: Any) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 1)


def _self_peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factories", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--max-part-terms", type=int, default=400_000)
    parser.add_argument("--lp-sample", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--give-up", type=float, default=3600.0)
    parser.add_argument(
        "--stop-after-check",
        action="store_true",
        help="report once the merged plan is checked, without waiting for it to be applied",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    queue = f"factoryweb-national-{secrets.token_hex(4)}"
    log = Path(tempfile.mkdtemp(prefix="factoryweb-national-")) / "worker.log"
    with scratch_database(args.database_url, "factoryweb_national") as url:
        database = Database.from_url(url)
        seeded = seed(database, args)
        worker = start_worker(url, args, queue, log)
        try:
            run_id, wall_s = run_national(database, args, queue)
            peaks = high_water_kb(worker.pid)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        result = report(database, run_id, wall_s, args, seeded, peaks)
        result["worker_log_tail"] = (
            log.read_text()[-1500:] if result["run_state"] != MatchRunState.SUCCEEDED else ""
        )
        database.engine.dispose()
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
