"""The marketplace's commands, on `factoryweb` and on `flask --app app` alike."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from marketplace import db, migrate
from marketplace.credit.cli import credit_group, ledger_group
from marketplace.operator.cli import COMMANDS as operator_commands
from marketplace.orders.cli import orders_group
from marketplace.payments.cli import payments_group
from marketplace.supply.cli import factory_group
from marketplace.telemetry.cli import telemetry_group
from marketplace.tools.cli import COMMANDS as tool_commands
from matching.cli import match_command

db_group = AppGroup("db", help="Database schema migrations.")


def _database_url() -> str:
    return current_app.config["FACTORYWEB_SETTINGS"].database_url


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(_database_url(), revision)
    click.echo(f"database at {migrate.head_revision() if revision == 'head' else revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (`base` empties the database)."""
    migrate.downgrade(_database_url(), revision)


@db_group.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    click.echo(migrate.current_revision(db.database().engine) or "(empty)")


def register_commands(group: click.Group) -> None:
    # `match` replays any run's downloaded problem (docs/matching-problem.md).
    for command in (
        db_group,
        factory_group,
        orders_group,
        payments_group,
        ledger_group,
        credit_group,
        telemetry_group,
        *tool_commands,
        *operator_commands,
        match_command,
    ):
        group.add_command(command)
