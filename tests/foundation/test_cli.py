import json
import subprocess
import sys

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
    assert summary["factories"] == 12 and summary["orders"] == 20
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


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "marketplace.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "seed-demo" in result.stdout and "db" in result.stdout
