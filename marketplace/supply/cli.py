"""`factoryweb factory export|import`: a factory in the standardized formats, for operators.

Import on the command line is a restore: it takes everything from the file, including
status, credit and booked hours. A factory the file names that does not exist yet goes
to the organization given with --organization, or to a new factory organization.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from factories.aas import writer as aas_writer
from factories.errors import FactoryError
from factories.models import get_by_id, utcnow
from factories.onboarding import find_factory
from factories.profile.reader import import_profile
from factories.profile.writer import export_profile
from marketplace import db

FORMATS = ("profile-json", "aas-json", "aas-xml")

factory_group = AppGroup("factory", help="Export and import factories (profile, AAS).")


class InputError(click.ClickException):
    """Bad input: exit status 2, with the field at fault."""

    exit_code = 2


@factory_group.command("export")
@click.argument("reference")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="profile-json", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_command(reference: str, fmt: str, out: Path | None) -> None:
    """Write factory REFERENCE (numeric id or urn global id) to --out or standard output."""
    with db.database().session() as session:
        factory = find_factory(session, reference)
        if factory is None:
            raise InputError(f"ID: no factory {reference!r}")
        profile = export_profile(session, factory)
    data = (
        profile.model_dump_json(indent=2).encode() + b"\n"
        if fmt == "profile-json"
        else aas_writer.write(profile, fmt)
    )
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
    from marketplace.accounts.models import Organization, OrganizationKind
    from marketplace.accounts.service import create_organization
    from marketplace.supply.views import read_profile_file

    data = file.read_bytes()
    try:
        profile = read_profile_file(data, file.name)
    except FactoryError as error:
        raise InputError(_problems(error)) from error
    now = utcnow()
    with db.database().session() as session:
        existing = find_factory(session, profile.factoryId)
        if organization_id is not None:
            organization = get_by_id(session, Organization, organization_id)
            if organization is None or organization.kind != OrganizationKind.FACTORY:
                raise InputError(f"--organization: no factory organization {organization_id}")
        elif existing is None:
            organization_id = create_organization(
                session, OrganizationKind.FACTORY, profile.name, profile.location.country
            ).id
        try:
            factory = import_profile(
                session, profile, organization_id, now.date(), now, restore=True
            )
        except FactoryError as error:
            raise InputError(_problems(error)) from error
        click.echo(
            f"{'restored' if existing else 'created'} factory {factory.id} "
            f"({factory.global_id}) from {file}"
        )


def _problems(error: FactoryError) -> str:
    return "; ".join(f"{field}: {message}" for field, message in error.problems)
