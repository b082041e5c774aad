"""`match PROBLEM.json [--time-limit S] [--workers N] [--out PLAN.json]` (contract v1).

Exit status 0 when a plan was produced, 2 for an unreadable or invalid problem, with one
`path: message` line per error on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from matching.problem import ProblemError, load_problem
from matching.solver import solve

INVALID_PROBLEM = 2


@click.command("match")
@click.argument(
    "problem_file", metavar="PROBLEM.json", type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--time-limit",
    "time_limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Search time (default: the problem's params.time_limit_s, else 10).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Solver threads (default: params.workers, else 2). 1 is reproducible.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Random seed (default: params.seed, else 0).",
)
@click.option(
    "--out",
    "out_file",
    metavar="PLAN.json",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the plan here instead of stdout.",
)
def match_command(
    problem_file: Path,
    time_limit: float | None,
    workers: int | None,
    seed: int | None,
    out_file: Path | None,
) -> None:
    """Allocate the jobs of PROBLEM.json to factories and print the plan as JSON."""
    try:
        problem = load_problem(problem_file)
    except ProblemError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        sys.exit(INVALID_PROBLEM)
    if seed is None:
        seed = problem.params.seed or 0
    plan = solve(problem, time_limit_s=time_limit, workers=workers, seed=seed)
    text = plan.to_json()
    if out_file is None:
        click.echo(text)
    else:
        out_file.write_text(text + "\n", encoding="utf-8")
