"""The network page, its recovery panel (loaded apart: it runs the engine) and the risk
table as CSV (operators only)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from marketplace import db
from marketplace.operator.access import operators_only
from marketplace.operator.blueprints import pages
from marketplace.operator.csv import csv_response
from marketplace.operator.network.presenters import drawing, risk_row
from marketplace.operator.network.service import network, recovery
from marketplace.supply.clock import today_and_now


@pages.get("/operator/network")
@operators_only
def network_page() -> ResponseReturnValue:
    today, _ = today_and_now()
    net = network(db.session(), today)
    return render_template("operator/network.html", net=net, drawing=drawing(net))


@pages.get("/operator/network/recovery")
@operators_only
def network_recovery() -> ResponseReturnValue:
    today, _ = today_and_now()
    session = db.session()
    net = network(session, today)
    value, result = recovery(session, net)
    db.discard_changes()  # reads only; nothing of the re-plan is kept
    return render_template("operator/_recovery.html", value=value, result=result, net=net)


@pages.get("/operator/network.csv")
@operators_only
def network_csv() -> ResponseReturnValue:
    today, _ = today_and_now()
    net = network(db.session(), today)
    header = (
        "process", "demanded_hours", "allocated_hours", "qualified_factories", "free_hours",
        "hhi", "single_sourced_orders", "unserved_lines", "critical_factories",
    )  # fmt: skip
    rows = []
    for risk in net.processes:
        row = risk_row(risk, net.critical)
        rows.append(
            (
                row["process"], row["demanded_hours"], row["allocated_hours"],
                row["qualified_factories"], row["free_hours"], row["hhi"],
                len(row["single_sourced_orders"]), row["unserved_lines"],
                " ".join(str(c["factory"]) for c in row["critical_factories"]),
            )
        )  # fmt: skip
    return csv_response("network.csv", header, rows)
