"""The supply network: concentration, sources, the four properties, the page."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from sqlmodel import col, select

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.operator.network.presenters import report
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


def test_network_page_and_recovery_panel(browser, make_member, cluster):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    page = browser.get("/operator/network").get_data(as_text=True)
    for element in (
        'id="network-map"',
        'id="risk-table"',
        'id="completeness"',
        'id="recovery-panel"',
    ):
        assert element in page, element
    assert '<rect class="factory' in page and '<line class="edge supply"' in page
    panel = browser.get("/operator/network/recovery")
    assert panel.status_code == 200
    value = float(panel.get_data(as_text=True).split('id="recovery">')[1].split("<")[0])
    assert 0 <= value <= 1
    csv_text = browser.get("/operator/network.csv").get_data(as_text=True)
    assert csv_text.startswith("process,demanded_hours")
