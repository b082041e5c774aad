import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import entry_points
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from marketplace.cli import main


def run_cli(tmp_path, *args):
    env = {"FACTORYWEB_INSTANCE": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/fw.db"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_db_upgrade_and_seed_demo_on_a_fresh_sqlite_database(tmp_path):
    result = run_cli(tmp_path, "db", "upgrade")
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
    assert "capacity_bucket" in sa.inspect(engine).get_table_names()

    result = run_cli(tmp_path, "seed-demo", "--factories", "12", "--orders", "20", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # 20 orders through every state, and one more waiting for its payment.
    assert summary["factories"] == 12 and summary["orders"] == 21
    assert summary["orders_by_state"]["awaiting_payment"] == 1
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM factory")).scalar() == 12

    result = run_cli(tmp_path, "seed-demo", "--if-empty")
    assert "already present" in result.output
    result = run_cli(tmp_path, "db", "current")
    assert result.output.strip() != "(empty)"
    engine.dispose()


def test_seed_demo_prints_one_login_per_role(tmp_path):
    run_cli(tmp_path, "db", "upgrade")
    result = run_cli(tmp_path, "seed-demo", "--factories", "8", "--orders", "5")
    assert result.exit_code == 0
    for role in ("operator", "buyer_member", "factory_owner", "factory_member"):
        assert role in result.output


def test_seed_demo_rejects_bad_counts_with_exit_2(tmp_path):
    result = run_cli(tmp_path, "seed-demo", "--factories", "0")
    assert result.exit_code == 2
    assert "--factories" in result.output


ROOT = Path(__file__).resolve().parents[2]


def scratch_environment(instance: Path) -> dict[str, str]:
    """The test's own environment, with a fresh instance folder and the default database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FACTORYWEB_INSTANCE"] = str(instance)
    return env


def test_console_script_is_installed(tmp_path):
    """[project.scripts]: `factoryweb`, installed next to the interpreter, carries both the
    marketplace's commands and Flask's."""
    (entry_point,) = entry_points(group="console_scripts", name="factoryweb")
    assert entry_point.value == "marketplace.cli:main"
    script = shutil.which("factoryweb", path=sysconfig.get_path("scripts"))
    assert script is not None, f"no factoryweb script in {sysconfig.get_path('scripts')}"
    env = scratch_environment(tmp_path)
    result = subprocess.run(
        [script, "--help"], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    assert "seed-demo" in result.stdout and "db" in result.stdout
    assert "factory" in result.stdout and "routes" in result.stdout
    result = subprocess.run(
        [script, "routes"], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    assert "/healthz" in result.stdout and "/api/v1/factories" in result.stdout


def test_flask_runs_app_py(tmp_path):
    """`flask --app app run` (make demo) and `gunicorn app:app` load the app from app.py."""
    env = scratch_environment(tmp_path / "instance")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "/healthz" in result.stdout and "/supply/search" in result.stdout
    probe = (
        "import app\n"
        "response = app.app.test_client().get('/healthz')\n"
        "print(response.status_code, app.app.config['FACTORYWEB_SETTINGS'].database_url)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    database = tmp_path / "instance" / "factoryweb.db"
    assert result.stdout.split() == ["200", f"sqlite:///{database}"]
    assert (tmp_path / "instance" / "secret_key").is_file()
