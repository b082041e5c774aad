"""`factoryweb ledger verify` and `factoryweb credit report|verify|refresh`.

Exit status: 0 when all is well; 1 when the ledger is broken or a report fails
verification (naming why); 2 on bad input (an unknown factory, an unreadable file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from factories import ledger
from factories.credit import report as reports
from factories.credit.service import refresh_all
from factories.models import utcnow
from factories.onboarding import find_factory
from marketplace import db
from marketplace.credit.keys import signing_key

ledger_group = AppGroup("ledger", help="The hash-chained ledger of business events.")
credit_group = AppGroup("credit", help="Credit scores and signed credit reports.")


class BadInput(click.ClickException):
    exit_code = 2


@ledger_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_ledger(as_json: bool) -> None:
    """Check every event's link and hash, in id order. Exits 0 when the chain is intact,
    1 naming the first broken event."""
    with db.database().session() as session:
        result = ledger.verify(session)
    broken = result.broken
    if as_json:
        click.echo(
            json.dumps(
                {
                    "intact": result.intact,
                    "events": result.events,
                    "last_hash": result.last_hash,
                    "broken": broken.as_dict() if broken else None,
                }
            )
        )
    elif broken is None:
        click.echo(f"ledger intact: {result.events} event(s), last hash {result.last_hash}")
    else:
        what = {
            "link": "its prev_hash is not the hash of the event before it "
            "(an event changed or removed before it)",
            "content": "its fields do not hash to its hash (payload or hash changed)",
        }[broken.problem]
        click.echo(f"ledger broken at event {broken.event_id}: {what}")
    if broken is not None:
        raise SystemExit(1)


@credit_group.command("report")
@click.argument("reference")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def report_command(reference: str, out: Path | None) -> None:
    """Write the signed credit report of factory REFERENCE (numeric id or urn global id)
    to --out or standard output."""
    key = signing_key()
    with db.database().session() as session:
        factory = find_factory(session, reference)
        if factory is None:
            raise BadInput(f"FACTORY: no factory {reference!r}")
        document = reports.sign(reports.build(session, factory, utcnow()), key)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote the credit report of factory {factory.id} to {out}", err=True)


def read_report(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInput(f"FILE: cannot read {file}: {error.strerror or error}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"FILE: {file} is not a JSON document: {error}") from error


@credit_group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def verify_report(file: Path) -> None:
    """Check the report in FILE: signed with the platform's key, and resting on an event
    that is in the ledger. Exits 0, or 1 with the reason."""
    document = read_report(file)
    check = reports.check_signature(document, signing_key().public_key())
    if check.ok:
        with db.database().session() as session:
            check = reports.check_anchor(session, document["report"])
    if not check.ok:
        click.echo(f"{file}: {check.reason}")
        raise SystemExit(1)
    report = document["report"]
    factory = report.get("factory") or {}
    click.echo(
        f"{file}: valid; factory {factory.get('global_id')}, score "
        f"{int(report.get('score_bps', 0)) / 10_000:.4f}, anchored at ledger event "
        f"{report['anchor']['event_id']}"
    )


@credit_group.command("refresh")
def refresh_command() -> None:
    """Compute every factory's score again from the ledger (older events weigh less as
    months pass: run it monthly, or from cron)."""
    with db.database().session() as session:
        changed = refresh_all(session, utcnow())
    click.echo(f"{changed} score(s) changed")
