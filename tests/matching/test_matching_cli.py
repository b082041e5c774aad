from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from matching.cli import match_command
from tests.matching.feasibility import check_plan

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = {
    "version": 1,
    "periods": ["2026-W48", "2026-W49"],
    "factories": [
        {
            "id": "f1",
            "credit": 0.92,
            "capacity": [{"resource": "cnc_milling", "period": "2026-W48", "hours": 120}],
        }
    ],
    "jobs": [
        {
            "id": "j1",
            "resource": "cnc_milling",
            "hours": 10,
            "release_period": "2026-W48",
            "due_period": "2026-W49",
            "min_credit": 0.5,
            "splittable": False,
            "priority": 1,
            "options": [{"factory": "f1", "hours": 12, "cost": 340.0, "lead_periods": 0}],
        }
    ],
    "params": {"time_limit_s": 10, "workers": 2},
}


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "problem.json"
    path.write_text(content)
    return path


def test_prints_the_plan(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        match_command, [str(write(tmp_path, json.dumps(PROBLEM))), "--time-limit", "2"]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    check_plan(PROBLEM, plan)
    assert plan["status"] == "OPTIMAL" and plan["objective"] == 340.0
    assert plan["assignments"] == [
        {"job": "j1", "factory": "f1", "period": "2026-W48", "hours": 12.0}
    ]


def test_writes_the_plan_to_out(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        match_command,
        [str(write(tmp_path, json.dumps(PROBLEM))), "--workers", "1", "--out", str(out)],
    )
    assert result.exit_code == 0 and result.stdout == ""
    check_plan(PROBLEM, json.loads(out.read_text()))


def test_invalid_problem_exits_2_with_one_line_per_error(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(PROBLEM))
    bad["jobs"][0]["options"][0]["factory"] = "f9"
    bad["jobs"][0]["hours"] = 0
    result = CliRunner().invoke(match_command, [str(write(tmp_path, json.dumps(bad)))])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "jobs[0].hours: must be > 0, got 0",
        'jobs[0].options[0].factory: unknown factory "f9"',
    ]


def test_unparsable_json_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(match_command, [str(write(tmp_path, '{"version": 1,,}'))])
    assert result.exit_code == 2
    assert result.stderr.startswith("invalid JSON at line 1, column 15")


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(match_command, [str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert "absent.json: cannot read file" in result.stderr


def test_runs_as_a_module(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(PROBLEM))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "matching", str(path), "--time-limit", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    check_plan(PROBLEM, json.loads(done.stdout))
    path.write_text("[")
    done = subprocess.run(
        [sys.executable, "-m", "matching", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith("invalid JSON")
