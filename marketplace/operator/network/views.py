"""The network page and its risk table as CSV, from the latest network report (computed
outside the page: reports.py); "compute now" makes a new one (operators only)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace import db
from marketplace.operator.access import operators_may_write, operators_only
from marketplace.operator.blueprints import pages
from marketplace.operator.csv import csv_response
from marketplace.operator.models import NetworkReport
from marketplace.operator.network.reports import compute_report, is_outdated, latest_report
from marketplace.supply.clock import today_and_now
from marketplace.web.forms import ActionForm, require_valid

CSV_HEADER = (
    "process", "demanded_hours", "allocated_hours", "qualified_factories", "free_hours", "hhi",
    "single_sourced_orders", "unserved_lines", "critical_factories",
)  # fmt: skip


def _report() -> NetworkReport:
    """The latest report; the first visit of all computes one."""
    session = db.session()
    row = latest_report(session)
    if row is None:
        today, now = today_and_now()
        row = compute_report(session, today, now)
    return row


@pages.get("/operator/network")
@operators_only
def network_page() -> ResponseReturnValue:
    row = _report()
    _, now = today_and_now()
    return render_template(
        "operator/network.html",
        row=row,
        net=row.report,
        outdated=is_outdated(row, now),
        refresh_form=ActionForm(formdata=None),
    )


@pages.post("/operator/network/refresh")
@operators_may_write
def network_refresh() -> ResponseReturnValue:
    require_valid(ActionForm())
    today, now = today_and_now()
    compute_report(db.session(), today, now)
    flash(_("The network report is up to date."))
    return redirect(url_for("operator.network_page"), code=303)


@pages.get("/operator/network.csv")
@operators_only
def network_csv() -> ResponseReturnValue:
    rows = [
        (
            r["process"], r["demanded_hours"], r["allocated_hours"], r["qualified_factories"],
            r["free_hours"], r["hhi"], len(r["single_sourced_orders"]), r["unserved_lines"],
            " ".join(str(c["factory"]) for c in r["critical_factories"]),
        )
        for r in _report().report["processes"]
    ]  # fmt: skip
    return csv_response("network.csv", CSV_HEADER, rows)
