"""`factoryweb factory export|import`: a factory in the standardized formats, for operators.

Import on the command line is a restore: it takes everything from the file, including
status and booked hours (not credit: that is earned on the ledger). A factory the file
names that does not exist yet goes to the organization given with --organization, or to
a new factory organization.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from factories.errors import InputError
from factories.models import get_by_id
from factories.onboarding import find_factory
from factories.profile.reader import import_profile
from factories.profile.writer import export_profile
from marketplace import db
from marketplace.accounts.models import Organization, OrganizationKind
from marketplace.accounts.service import create_organization
from marketplace.supply.clock import today_and_now
from marketplace.supply.formats.files import EXPORTS, profile_file, read_profile_file

factory_group = AppGroup("factory", help="Export and import factories (profile, AAS).")


class BadInput(click.ClickException):
    """Bad input: exit status 2, with the field at fault."""

    exit_code = 2

    @classmethod
    def of(cls, error: InputError) -> BadInput:
        return cls("; ".join(f"{field}: {message}" for field, message in error.problems))


@factory_group.command("export")
@click.argument("reference")
@click.option(
    "--format", "fmt", type=click.Choice(list(EXPORTS)), default="profile-json", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_command(reference: str, fmt: str, out: Path | None) -> None:
    """Write factory REFERENCE (numeric id or urn global id) to --out or standard output."""
    with db.database().session() as session:
        factory = find_factory(session, reference)
        if factory is None:
            raise BadInput(f"ID: no factory {reference!r}")
        profile = export_profile(session, factory)
    data = profile_file(profile, fmt)
    if fmt == "profile-json":
        data += b"\n"  # a text file ends with a newline
    if out is None:
        click.echo(data.decode(), nl=False)
    else:
        out.write_bytes(data)
        click.echo(f"wrote {fmt} of factory {profile.factoryId} to {out}", err=True)


@factory_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--organization",
    "organization_id",
    type=int,
    help="Organization that gets a factory not yet here (default: a new one).",
)
def import_command(file: Path, organization_id: int | None) -> None:
    """Create or restore the factory described in FILE (profile JSON, AAS JSON or AAS XML)."""
    try:
        profile = read_profile_file(file.read_bytes(), file.name)
    except InputError as error:
        raise BadInput.of(error) from error
    today, now = today_and_now()
    with db.database().session() as session:
        existing = find_factory(session, profile.factoryId)
        if organization_id is not None:
            organization = get_by_id(session, Organization, organization_id)
            if organization is None or organization.kind != OrganizationKind.FACTORY:
                raise BadInput(f"--organization: no factory organization {organization_id}")
        elif existing is None:
            organization_id = create_organization(
                session, OrganizationKind.FACTORY, profile.name, profile.location.country
            ).id
        try:
            factory = import_profile(session, profile, organization_id, today, now, restore=True)
        except InputError as error:
            raise BadInput.of(error) from error
        click.echo(
            f"{'restored' if existing else 'created'} factory {factory.id} "
            f"({factory.global_id}) from {file}"
        )
