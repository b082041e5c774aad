"""The engine as a package: pure (no web framework, no database, no marketplace code),
and its problem model faithful to contract-v1 JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from matching import load_problem, validate
from tests.matching.problems import crowded_problems, problems

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = (
    "flask",
    "werkzeug",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "psycopg",
    "marketplace",
    "factories",
)

# Imports every module of the package and solves, explains and re-matches a problem,
# then lists the forbidden top-level packages that got imported along the way.
PROBE = f"""
import importlib, json, pkgutil, sys
import matching
for module in pkgutil.walk_packages(matching.__path__, "matching."):
    if module.name != "matching.__main__":
        importlib.import_module(module.name)
problem = matching.load_problem({{
    "version": 1,
    "factories": [{{"id": "f", "capacity": [{{"resource": "r", "period": "P1", "hours": 5}}]}}],
    "jobs": [{{"id": "j", "resource": "r", "hours": 2,
              "options": [{{"factory": "f", "cost": 1}}]}}],
}})
plan = matching.solve(problem, time_limit_s=0.5, workers=1)
matching.explain(problem, plan, "j")
matching.rematch(problem, plan, time_limit_s=0.5, workers=1)
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({FORBIDDEN!r}))))
"""


def test_the_engine_imports_no_web_framework_database_or_marketplace() -> None:
    # A fresh interpreter: in this one the test suite has imported Flask and the rest.
    # -I ignores PYTHONPATH, the user's site and the working directory; the checkout is
    # put first on the path so that `matching` is this one.
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(problems())
def test_a_problem_dumped_and_loaded_back_is_equal(data: dict) -> None:
    problem = load_problem(data)
    text = problem.to_json()
    assert validate(json.loads(text)) == []
    again = load_problem(text)
    assert again == problem
    assert again.to_json() == text


@ROUND_TRIP
@given(crowded_problems())
def test_a_crowded_problem_dumped_and_loaded_back_is_equal(data: dict) -> None:
    problem = load_problem(data)
    assert load_problem(json.loads(problem.to_json())) == problem
