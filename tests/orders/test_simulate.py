"""Item 6: `factoryweb simulate` runs the whole flow against the configured database,
with concurrent factory workers, and prints a summary whose books must balance."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from marketplace.cli import main

KEYS = {
    "orders",
    "lines",
    "fill_rate",
    "overbooked_buckets",
    "declined",
    "rematched",
    "delivered",
    "wall_s",
}


def test_simulate_runs_the_whole_flow_and_the_books_balance(committed_app, committed):
    app = committed_app("thread")
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "simulate",
            "--factories",
            "30",
            "--orders",
            "40",
            "--weeks",
            "5",
            "--seed",
            "101",
            "--concurrency",
            "4",
            "--batch",
            "20",
            "--time-limit",
            "1",
            "--accept-rate",
            "0.7",
            "--json",
        ],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary) >= KEYS
    assert summary["orders"] == 40 and summary["lines"] >= 40
    assert summary["overbooked_buckets"] == 0
    assert summary["booking_mismatches"] == 0
    assert summary["failed_runs"] == 0
    assert summary["declined"] > 0 and summary["rematched"] > 0
    assert 0.5 < summary["fill_rate"] <= 1
    assert summary["delivered"] > 0
    assert summary["delivered"] == summary["orders_by_state"].get("delivered")
    # Orders end delivered, or open with work nobody could take: nothing is left pending.
    assert set(summary["orders_by_state"]) <= {"delivered", "open"}
    with committed.session() as session:
        assert (
            session.execute(
                sa.text("SELECT count(*) FROM capacity_bucket WHERE booked_hours > maximum_hours")
            ).scalar()
            == 0
        )

    # The same seed on the same database is refused, naming the option (exit 2).
    again = runner.invoke(
        main,
        ["simulate", "--factories", "30", "--orders", "5", "--seed", "101"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert again.exit_code == 2 and "--seed" in again.output


def test_simulate_refuses_bad_options(committed_app):
    app = committed_app("thread")
    result = CliRunner().invoke(
        main, ["simulate", "--orders", "0"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 2 and "--orders" in result.output
