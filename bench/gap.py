"""Generalized assignment benchmark: the engine on the standard OR-Library / Yagiura
instances, against their best known costs.

    python bench/gap.py [--data DIR] [--types cde] [--instances c05100,d10200]
                        [--min-jobs 100] [--max-jobs 200] [--time-limit 20]

Each instance becomes a contract-v1 problem: agents are factories with one resource in
one period, jobs are non-splittable with an option at every agent (that agent's hours
and cost). The data directory defaults to $FACTORYWEB_GAP_DIR, else ../shared/data/gap
beside the repository. Prints one JSON line per instance, then a summary line.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import click  # noqa: E402

from matching import load_problem, solve  # noqa: E402

RESOURCE = "capacity"
PERIOD = "P1"


def default_data_dir() -> Path:
    return Path(os.environ.get("FACTORYWEB_GAP_DIR") or ROOT.parent / "shared" / "data" / "gap")


def read_instance(path: Path) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """(cost[agent][job], hours[agent][job], capacity[agent]) of a Yagiura-format file."""
    numbers = [int(token) for token in path.read_text().split()]
    agents, jobs = numbers[0], numbers[1]
    position = 2
    matrices = []
    for _ in range(2):
        matrix = []
        for _ in range(agents):
            matrix.append(numbers[position : position + jobs])
            position += jobs
        matrices.append(matrix)
    capacity = numbers[position : position + agents]
    if len(capacity) != agents:
        raise ValueError(f"{path}: truncated instance")
    return matrices[0], matrices[1], capacity


def to_problem(cost: list[list[int]], hours: list[list[int]], capacity: list[int]) -> dict:
    agents, jobs = len(cost), len(cost[0])
    return {
        "version": 1,
        "periods": [PERIOD],
        "factories": [
            {
                "id": f"a{i + 1}",
                "capacity": [{"resource": RESOURCE, "period": PERIOD, "hours": capacity[i]}],
            }
            for i in range(agents)
        ],
        "jobs": [
            {
                "id": f"j{j + 1}",
                "resource": RESOURCE,
                "hours": min(hours[i][j] for i in range(agents)),
                "splittable": False,
                "options": [
                    {"factory": f"a{i + 1}", "hours": hours[i][j], "cost": cost[i][j]}
                    for i in range(agents)
                ],
            }
            for j in range(jobs)
        ],
    }


def best_known(data_dir: Path) -> dict[str, dict[str, str]]:
    with (data_dir / "best_known.csv").open() as handle:
        return {row["instance"]: row for row in csv.DictReader(handle)}


def run(name: str, data_dir: Path, time_limit_s: float, seed: int) -> dict[str, Any]:
    cost, hours, capacity = read_instance(data_dir / name)
    problem = load_problem(to_problem(cost, hours, capacity))
    started = time.perf_counter()
    plan = solve(problem, time_limit_s=time_limit_s, workers=2, seed=seed)
    elapsed = time.perf_counter() - started
    reference = best_known(data_dir)[name]
    best = float(reference["best_known_cost"])
    all_placed = not plan.unassigned
    return {
        "instance": name,
        "agents": len(capacity),
        "jobs": len(cost[0]),
        "cost": plan.objective,
        "best_known": best,
        "gap_pct": round(100 * (plan.objective - best) / best, 3) if all_placed else None,
        "all_jobs_placed": all_placed,
        "status": plan.status,
        "bound": plan.bound,
        "solve_s": round(elapsed, 2),
    }


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    gaps = [r["gap_pct"] for r in results if r["gap_pct"] is not None]
    return {
        "summary": True,
        "instances": len(results),
        "all_jobs_placed": sum(r["all_jobs_placed"] for r in results),
        "mean_gap_pct": round(statistics.mean(gaps), 3) if gaps else None,
        "worst_gap_pct": max(gaps) if gaps else None,
        "by_type": {
            kind: {
                "mean_gap_pct": round(statistics.mean(g), 3),
                "worst_gap_pct": max(g),
            }
            for kind in sorted({r["instance"][0] for r in results})
            if (
                g := [
                    r["gap_pct"]
                    for r in results
                    if r["instance"][0] == kind and r["gap_pct"] is not None
                ]
            )
        },
    }


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Instance directory (default: $FACTORYWEB_GAP_DIR or ../shared/data/gap).",
)
@click.option("--types", default="cde", show_default=True, help="Instance types to run.")
@click.option("--instances", default=None, help="Comma-separated names; overrides filters.")
@click.option("--min-jobs", type=int, default=100, show_default=True)
@click.option("--max-jobs", type=int, default=200, show_default=True)
@click.option("--time-limit", "time_limit", type=float, default=20.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(
    data_dir: Path | None,
    types: str,
    instances: str | None,
    min_jobs: int,
    max_jobs: int,
    time_limit: float,
    seed: int,
) -> None:
    data_dir = data_dir or default_data_dir()
    known = best_known(data_dir)
    if instances:
        names = [name.strip() for name in instances.split(",")]
    else:
        names = [
            name
            for name, row in known.items()
            if name[0] in types.lower() and min_jobs <= int(row["jobs"]) <= max_jobs
        ]
    results = []
    for name in names:
        result = run(name, data_dir, time_limit, seed)
        results.append(result)
        click.echo(json.dumps(result))
    click.echo(json.dumps(summary(results)))


if __name__ == "__main__":
    main()
