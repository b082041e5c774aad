"""Item 6: `factoryweb simulate` runs the whole flow against the configured database,
with concurrent factory workers, and prints a summary whose books must balance."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from factories import ledger
from marketplace.cli import main

KEYS = {
    "orders",
    "money",
    "money_mismatches",
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
    # Orders end delivered, closed after a settled dispute, cancelled after payment, or
    # open with work nobody could take: nothing is left pending.
    assert set(summary["orders_by_state"]) <= {"delivered", "closed", "cancelled", "open"}
    # The money: paid, some refunded, the factories with a payout account paid out.
    assert summary["gateway"] == "simulated" and summary["money_mismatches"] == 0
    eur = summary["money"]["EUR"]
    assert eur["captured"] > 0 and eur["transferred"] > 0 and eur["fees"] > 0
    assert eur["captured"] - eur["refunded"] - eur["transferred"] - eur["fees"] == eur["held"]
    assert eur["held"] >= 0
    assert summary["cancelled_after_payment"] == summary["orders_by_state"].get("cancelled", 0)
    with committed.session() as session:
        assert (
            session.execute(
                sa.text("SELECT count(*) FROM capacity_bucket WHERE booked_hours > maximum_hours")
            ).scalar()
            == 0
        )
        # Every step went into the ledger, and the chain holds.
        chain = ledger.verify(session)
        assert chain.intact and chain.events > summary["orders"]

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


def _simulate(runner, app, *args):
    return runner.invoke(
        main, ["simulate", *args, "--json"], obj=ScriptInfo(create_app=lambda: app)
    )


def test_simulate_beside_other_data_answers_only_for_its_own_factories(committed_app, committed):
    """A database that already holds a marketplace: the simulation's orders may be offered
    to its factories, but the simulation never answers for them, and still finishes."""
    app = committed_app("thread")
    runner = CliRunner()
    seeded = runner.invoke(
        main,
        ["seed-demo", "--factories", "25", "--orders", "30", "--weeks", "4", "--seed", "3"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert seeded.exit_code == 0, seeded.output
    with committed.session() as session:
        before = dict(session.execute(sa.text("SELECT id, state FROM proposal")).all())
        other_factories = {
            row[0] for row in session.execute(sa.text("SELECT id FROM factory")).all()
        }

    result = _simulate(
        runner, app, "--factories", "20", "--orders", "40", "--weeks", "4", "--seed", "3",
        "--batch", "20", "--time-limit", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["overbooked_buckets"] == 0 and summary["booking_mismatches"] == 0
    assert summary["failed_runs"] == 0 and summary["delivered"] > 0
    with committed.session() as session:
        # Nothing the demo had changed; work the simulation offered to the demo's
        # factories still waits for their answer.
        after = dict(session.execute(sa.text("SELECT id, state FROM proposal")).all())
        assert {i: after[i] for i in before} == before
        answered_for_others = session.execute(
            sa.text(
                "SELECT count(*) FROM proposal WHERE factory_id = ANY(:others) "
                "AND state IN ('accepted', 'declined') AND id <> ALL(:before)"
            ),
            {"others": sorted(other_factories), "before": sorted(before) or [0]},
        ).scalar()
        assert answered_for_others == 0
    assert summary["pending_with_other_factories"] >= 0


def test_simulate_finishes_on_sqlite_beside_demo_data(tmp_path):
    """On SQLite, hours are binary floats: the books must still add up to the cent, so
    that no acceptance is refused for 14.599999999999998 held hours."""
    env = {"FACTORYWEB_INSTANCE": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/fw.db"}
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["seed-demo", "--factories", "20", "--orders", "30", "--weeks", "4", "--seed", "3"],
    ):
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        main,
        ["simulate", "--factories", "20", "--orders", "60", "--weeks", "4", "--seed", "3",
         "--batch", "30", "--time-limit", "1", "--json"],
        env=env,
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["booking_mismatches"] == 0 and summary["overbooked_buckets"] == 0
    assert summary["delivered"] > 0
    verified = runner.invoke(main, ["ledger", "verify"], env=env, catch_exceptions=False)
    assert verified.exit_code == 0 and "ledger intact" in verified.output, verified.output
