"""Matching benchmark: CP-SAT engine vs greedy baseline vs LP bound, per instance size.

    python bench/matching.py [--sizes 100x500x4,300x2000x4] [--shapes standard,regional]
                             [--time-limit S] [--seed N] [--workers N]

Sizes are FACTORIESxJOBSxWEEKS; instances come from bench/matching_generator.py in each
of the given shapes (`standard`, `regional`, `plants`: see there). Without --time-limit
a size gets 30 s up to 500 jobs, 60 s up to 2,000 and 120 s above. One JSON report per
size and shape is printed on stdout (one per line), then a summary line per shape.
Fill is the priority-weighted share of work placed; `fill_vs_lp` divides the weighted
fill by the LP bound's. `cost_vs_lp` divides the plan's cost by the LP's cheapest cost
at the plan's own fill. Peak memory is the peak resident set size (getrusage ru_maxrss)
of a fresh process that generated the instance and ran only that method.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

# This script's own name shadows the package: look in the repository root first.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.append(str(ROOT / "bench"))

import click  # noqa: E402
from matching_generator import DEFAULT_SHAPE, SHAPES, generate  # noqa: E402

from matching import load_problem, solve  # noqa: E402
from matching.bound import lp_bound, lp_min_cost  # noqa: E402
from matching.heuristic import greedy  # noqa: E402
from matching.instance import compile_problem  # noqa: E402

TARGETS = {  # (min fill_vs_lp, max cost_vs_lp) from the engine's issue, every shape
    "100x500x4": (0.995, 1.04),
    "300x2000x4": (0.993, 1.06),
    "600x5000x4": (0.99, 1.08),
}


def parse_size(text: str) -> tuple[int, int, int]:
    factories, jobs, weeks = (int(part) for part in text.lower().split("x"))
    return factories, jobs, weeks


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def default_time_limit(size: str) -> float:
    jobs = parse_size(size)[1]
    return 30.0 if jobs <= 500 else 60.0 if jobs <= 2000 else 120.0


def run_method(
    method: str, size: str, shape: str, seed: int, time_limit_s: float, workers: int
) -> dict[str, Any]:
    """Run one method on one generated instance (meant for a fresh process)."""
    problem = load_problem(generate(*parse_size(size), seed=seed, shape=shape))
    instance = compile_problem(problem)
    total_priority = sum(job.priority for job in problem.jobs)
    started = time.perf_counter()
    if method == "lp":
        bound = lp_bound(instance)
        return {
            "fill": bound.fill / total_priority,
            "weighted_fill": bound.fill,
            "cost": bound.cost,
            "solve_s": round(time.perf_counter() - started, 2),
            "peak_rss_mb": _peak_rss_mb(),
        }
    if method == "greedy":
        allocation = greedy(instance)
        plan = instance.plan(
            allocation, status="FEASIBLE", bound=None, solve_s=time.perf_counter() - started
        )
    else:
        plan = solve(problem, time_limit_s=time_limit_s, workers=workers, seed=seed)
    result = {
        "fill": plan.fill,
        "weighted_fill": plan.fill * total_priority,
        "cost": plan.objective,
        "solve_s": plan.solve_s,
        "peak_rss_mb": _peak_rss_mb(),
    }
    if method == "cpsat":
        result.update(status=plan.status, bound=plan.bound)
    # The LP's cheapest cost at this plan's fill, computed after the peak was taken.
    result["lp_cost_at_fill"] = lp_min_cost(instance, result["weighted_fill"])
    return result


def _in_fresh_process(*args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_method, *args).result()


def describe(size: str, shape: str, seed: int) -> dict[str, Any]:
    problem = load_problem(generate(*parse_size(size), seed=seed, shape=shape))
    instance = compile_problem(problem)
    return {
        "factories": len(problem.factories),
        "jobs": len(problem.jobs),
        "periods": len(problem.periods),
        "options": sum(len(job.options) for job in problem.jobs),
        "feasible_choices": sum(len(info.choices) for info in instance.jobs),
        "feasible_triples": sum(len(c.buckets) for info in instance.jobs for c in info.choices),
        "independent_groups": len(instance.components()),
        "splittable_jobs": sum(job.splittable for job in problem.jobs),
        "jobs_with_min_credit": sum(job.min_credit > 0 for job in problem.jobs),
        "demand_hours": round(sum(job.hours for job in problem.jobs)),
        "capacity_hours": round(sum(instance.bucket_hours)),
    }


def report(size: str, shape: str, seed: int, time_limit_s: float, workers: int) -> dict[str, Any]:
    lp = _in_fresh_process("lp", size, shape, seed, time_limit_s, workers)
    result: dict[str, Any] = {
        "size": size,
        "shape": shape,
        "seed": seed,
        "time_limit_s": time_limit_s,
        "workers": workers,
        "instance": describe(size, shape, seed),
        "lp_bound": lp,
    }
    for method in ("greedy", "cpsat"):
        figures = _in_fresh_process(method, size, shape, seed, time_limit_s, workers)
        figures["fill_vs_lp"] = figures["weighted_fill"] / lp["weighted_fill"]
        figures["cost_vs_lp"] = figures["cost"] / figures["lp_cost_at_fill"]
        result[method] = figures
    if size in TARGETS:
        min_fill, max_cost = TARGETS[size]
        engine = result["cpsat"]
        result["targets"] = {
            "fill_vs_lp_min": min_fill,
            "cost_vs_lp_max": max_cost,
            "met": engine["fill_vs_lp"] >= min_fill and engine["cost_vs_lp"] <= max_cost,
        }
    return result


def summary(shape: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The engine's figures per size for one shape, and whether every target was met."""
    return {
        "shape": shape,
        "sizes": {
            r["size"]: {
                "fill_vs_lp": round(r["cpsat"]["fill_vs_lp"], 5),
                "cost_vs_lp": round(r["cpsat"]["cost_vs_lp"], 4),
                "met": r.get("targets", {}).get("met"),
            }
            for r in reports
        },
        "all_targets_met": all(r.get("targets", {}).get("met", True) for r in reports),
    }


@click.command()
@click.option(
    "--sizes",
    default="100x500x4,300x2000x4",
    show_default=True,
    help="Comma-separated FACTORIESxJOBSxWEEKS.",
)
@click.option(
    "--shapes",
    default=DEFAULT_SHAPE,
    show_default=True,
    help=f"Comma-separated generator shapes, of {', '.join(SHAPES)}.",
)
@click.option(
    "--time-limit",
    "time_limit",
    type=float,
    default=None,
    help="Seconds per solve (default 30 up to 500 jobs, 60 up to 2,000, 120 above).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
def main(sizes: str, shapes: str, time_limit: float | None, seed: int, workers: int) -> None:
    shape_names = [name.strip() for name in shapes.split(",")]
    unknown = [name for name in shape_names if name not in SHAPES]
    if unknown:
        raise click.BadParameter(f"unknown shape(s) {', '.join(unknown)}", param_hint="--shapes")
    for shape in shape_names:
        reports = []
        for size in sizes.split(","):
            size = size.strip()
            limit = time_limit if time_limit is not None else default_time_limit(size)
            reports.append(report(size, shape, seed, limit, workers))
            click.echo(json.dumps(reports[-1]), nl=True)
        click.echo(json.dumps(summary(shape, reports)))


if __name__ == "__main__":
    main()
