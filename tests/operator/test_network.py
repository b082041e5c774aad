"""The supply network: concentration, sources, the four properties, the page."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from factories.models import utcnow
from marketplace import db
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.operator.models import NetworkReport
from marketplace.operator.network.reports import KEPT, compute_report, is_outdated, report, sweep
from marketplace.operator.network.service import DEMAND_STATES, hhi, network
from marketplace.orders.models import Order, OrderLine, Proposal, ProposalState


def test_hhi():
    assert hhi([Decimal(5)]) == 1.0
    assert hhi([Decimal(1), Decimal(1)]) == pytest.approx(0.5)
    assert hhi([Decimal(3), Decimal(1)]) == pytest.approx(0.625)
    assert hhi([]) is None


def test_concentration_and_properties_from_the_proposals(cluster):
    net = network(cluster, utcnow().date())
    by_process: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    demanded: dict[str, Decimal] = defaultdict(Decimal)
    for line, proposal in cluster.exec(
        select(OrderLine, Proposal)
        .join(Order, col(Order.id) == col(OrderLine.order_id))
        .join(Proposal, col(Proposal.order_line_id) == col(OrderLine.id), isouter=True)
        .where(col(Order.state).in_(DEMAND_STATES))
    ).all():
        if proposal is not None and proposal.state in (
            ProposalState.PENDING,
            ProposalState.ACCEPTED,
        ):
            by_process[line.process_code][proposal.factory_id] += proposal.hours
    for line in cluster.exec(
        select(OrderLine).join(Order, col(Order.id) == col(OrderLine.order_id))
        .where(col(Order.state).in_(DEMAND_STATES))
    ).all():  # fmt: skip
        demanded[line.process_code] += line.hours
    assert {r.process: r.demanded_hours for r in net.processes} == dict(demanded)
    for risk in net.processes:
        shares = by_process.get(risk.process, {})
        expected = None
        if shares:
            total = sum(shares.values())
            expected = float(sum((h / total) ** 2 for h in shares.values()))
        assert (
            risk.concentration == pytest.approx(expected)
            if expected
            else risk.concentration is None
        )
        # A factory that is the only one qualified for a line is critical.
        if len(risk.qualified) == 1:
            assert risk.critical == risk.qualified
    for value in (net.completeness, net.smoothness, net.control):
        assert 0 <= value <= 1
    answer = report(net, 0.5)
    assert {"completeness", "smoothness", "control", "recovery"} <= set(answer)
    assert answer["recovery"] == 0.5


def test_network_page_reads_the_latest_report(browser, make_member, cluster):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    assert cluster.exec(select(NetworkReport)).first() is None
    page = browser.get("/operator/network").get_data(as_text=True)
    for element in ('id="network-map"', 'id="risk-table"', 'id="completeness"', 'id="recovery"'):
        assert element in page, element
    assert '<rect class="factory' in page and '<line class="edge supply"' in page
    # The first visit computed a report; the next visits read it.
    [first] = cluster.exec(select(NetworkReport)).all()
    value = float(page.split('id="recovery">')[1].split("<")[0])
    assert value == pytest.approx(first.report["recovery"], abs=0.005) and 0 <= value <= 1
    browser.get("/operator/network")
    assert len(cluster.exec(select(NetworkReport)).all()) == 1
    assert browser.form("/operator/network/refresh", {}).status_code == 303
    assert len(cluster.exec(select(NetworkReport)).all()) == 2
    csv_text = browser.get("/operator/network.csv").get_data(as_text=True)
    assert csv_text.startswith("process,demanded_hours")
    assert len(csv_text.strip().splitlines()) == len(first.report["processes"]) + 1


def test_housekeeping_refreshes_an_outdated_report(app, cluster):
    now = utcnow()
    row = compute_report(cluster, now.date(), now - timedelta(minutes=11))
    cluster.commit()
    assert is_outdated(row, now)
    with app.app_context():
        database = db.database()
    assert sweep(database)["network_report"] is not None
    assert sweep(database)["network_report"] is None  # the new one is fresh


def test_only_the_latest_reports_are_kept(cluster):
    now = utcnow()
    ids = [compute_report(cluster, now.date(), now, time_limit_s=1).id for _ in range(KEPT + 2)]
    kept = sorted(r.id for r in cluster.exec(select(NetworkReport)).all())
    assert kept == sorted(ids)[-KEPT:]
