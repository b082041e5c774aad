"""The `factoryweb` command: Flask's commands plus the marketplace's own."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from marketplace import migrate


def _create_app():  # type: ignore[no-untyped-def]
    from marketplace import create_app

    return create_app()


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
    from marketplace import db

    click.echo(migrate.current_revision(db.database().engine) or "(empty)")


@click.command("seed-demo")
@click.option("--factories", "factory_count", default=60, show_default=True, type=click.IntRange(1))
@click.option("--orders", "order_count", default=150, show_default=True, type=click.IntRange(0))
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 52))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing when the marketplace already has factories."
)
@with_appcontext
def seed_demo(
    factory_count: int, order_count: int, weeks: int, seed: int, as_json: bool, if_empty: bool
) -> None:
    """Fill the marketplace with a realistic demo cluster, the same for the same seed."""
    from marketplace import db
    from marketplace.demo import DemoSpec, demo_logins, has_factories, seed_marketplace

    with db.database().session() as session:
        if if_empty and has_factories(session):
            click.echo("demo data already present; nothing to do")
            _echo_logins(demo_logins())
            return
        summary = seed_marketplace(
            session, DemoSpec(factories=factory_count, orders=order_count, weeks=weeks, seed=seed)
        )
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
        return
    click.echo(
        f"seeded {summary.factories} factories in {summary.regions} regions, "
        f"{summary.capacity_buckets} capacity buckets over {weeks} weeks, "
        f"{summary.orders} orders in {summary.seconds:.1f} s"
    )
    _echo_logins(summary.logins)


def _echo_logins(logins: dict[str, tuple[str, str]]) -> None:
    click.echo("demo logins (email / password):")
    for role, (email, password) in logins.items():
        click.echo(f"  {role:<16} {email} / {password}")


def register_commands(group: click.Group) -> None:
    from marketplace.supply.cli import factory_group

    for command in (db_group, seed_demo, factory_group):
        group.add_command(command)
    from marketplace.orders.cli import COMMANDS as orders_commands
    from matching.cli import match_command

    # `match` replays any run's downloaded problem (shared/specs/matching-problem-v1.md).
    for command in (*orders_commands, match_command):
        group.add_command(command)


main = FlaskGroup(
    name="factoryweb",
    create_app=_create_app,
    help="FactoryWeb: manufacturing capacity marketplace.",
    add_version_option=False,
    set_debug_flag=False,
)
register_commands(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
