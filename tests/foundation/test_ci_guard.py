"""With CI=true a missing service must stop the run loudly instead of skipping tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/postgres"


def run_pytest(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_DATABASE_URL": UNREACHABLE, "CI": "true" if ci else "false"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/foundation/test_schema.py::test_database_is_at_the_single_head",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_fails_loudly_when_postgresql_is_missing():
    result = run_pytest(ci=True)
    assert result.returncode != 0
    assert "unreachable" in result.stdout + result.stderr
    assert "127.0.0.1:1" in result.stdout + result.stderr


def test_outside_ci_database_tests_are_skipped_not_failed():
    result = run_pytest(ci=False)
    assert result.returncode == 0, result.stdout
    assert "skipped" in result.stdout
