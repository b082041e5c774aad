"""The dashboard page and its tables as CSV (operators only)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from marketplace import db
from marketplace.operator.access import operators_only
from marketplace.operator.blueprints import pages
from marketplace.operator.csv import csv_response
from marketplace.operator.dashboard.presenters import TABLES, figures
from marketplace.operator.dashboard.service import dashboard
from marketplace.supply.clock import today_and_now


@pages.get("/operator")
@operators_only
def dashboard_page() -> ResponseReturnValue:
    today, now = today_and_now()
    board = dashboard(db.session(), today, now)
    return render_template(
        "operator/dashboard.html", board=board, figures=figures(board), tables=list(TABLES)
    )


@pages.get("/operator/<table>.csv")
@operators_only
def dashboard_csv(table: str) -> ResponseReturnValue:
    if table not in TABLES:
        raise NotFound()
    today, now = today_and_now()
    chosen = TABLES[table]
    return csv_response(f"{table}.csv", chosen.header, chosen.rows(db.session(), today, now))
