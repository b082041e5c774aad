"""The cluster operator in Chromium: dashboard with its charts, the network page with
its recovery panel, a what-if run and not applied (the tables compared before and
after), in English and Chinese; screenshots are kept as test artifacts
(`FACTORYWEB_ARTIFACTS`, default ./test-artifacts/operator)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlmodel import col, select

from factories.capacity.weeks import monday_of
from marketplace.operator.dashboard.presenters import TABLES as CSV_TABLES
from marketplace.orders.models import Order, OrderState, Proposal, ProposalState
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace

ARTIFACTS = Path(os.environ.get("FACTORYWEB_ARTIFACTS", "test-artifacts")) / "operator"
TABLES_CSV = tuple(CSV_TABLES)
TABLES = ("capacity_bucket", "proposal", "proposal_slot", "purchase_order", "match_run")


def snapshot(database) -> dict[str, list[tuple]]:
    with database.session() as session:
        return {
            t: [tuple(r) for r in session.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in TABLES
        }


def sign_in(page, live_server: str, role: str) -> None:
    email, password = demo_logins()[role]
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/home")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_dashboard_network_and_what_if(page, live_server, live_database):
    with live_database.session() as session:
        seed_marketplace(
            session,
            DemoSpec(factories=40, orders=80, start=monday_of(datetime.now(UTC).date())),
        )
        factory_id = session.exec(
            select(Proposal.factory_id)
            .join(Order, col(Order.id) == col(Proposal.order_id))
            .where(Proposal.state == ProposalState.PENDING, Order.state == OrderState.PROPOSED)
            .group_by(col(Proposal.factory_id))
            .order_by(sa.func.sum(Proposal.hours).desc(), col(Proposal.factory_id))
        ).first()
    assert factory_id is not None
    sign_in(page, live_server, "operator")
    for lang in ("en", "zh"):
        page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
        page.goto(live_server + "/operator")
        # Plotly drew the heatmaps and the fill chart (an SVG in each chart).
        for chart in ("#chart-by-process", "#chart-by-region", "#chart-fill"):
            expect(page.locator(f"{chart} svg.main-svg").first).to_be_visible(timeout=30_000)
        shot(page, f"dashboard-{lang}")
        page.goto(live_server + "/operator/network")
        expect(page.locator("#network-map rect.factory").first).to_be_attached()
        expect(page.locator("#recovery")).not_to_have_text("…", timeout=60_000)
        shot(page, f"network-{lang}")

    before = snapshot(live_database)
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    page.goto(live_server + "/operator/whatif")
    page.locator("#factory").fill(str(factory_id))
    page.locator("#run-whatif").click()
    expect(page.locator("#whatif-result")).to_be_visible(timeout=60_000)
    assert page.locator("#affected-orders tbody tr").count() >= 1
    expect(page.locator("#apply-whatif")).to_be_visible()
    shot(page, "whatif-en")
    page.context.add_cookies([{"name": "lang", "value": "zh", "url": live_server}])
    page.reload()
    expect(page.locator("#whatif-result h2")).to_contain_text("停产", timeout=60_000)
    shot(page, "whatif-zh")
    assert snapshot(live_database) == before


def test_buyers_and_factories_are_kept_out(page, live_server, live_database):
    with live_database.session() as session:
        seed_marketplace(
            session, DemoSpec(factories=5, orders=3, start=monday_of(datetime.now(UTC).date()))
        )
    paths = [
        "/operator",
        "/operator/network",
        "/operator/whatif",
        "/operator/network.csv",
        *(f"/operator/{table}.csv" for table in TABLES_CSV),
    ]
    for role in ("buyer_member", "factory_owner"):
        sign_in(page, live_server, role)
        for path in paths:
            response = page.request.get(live_server + path, max_redirects=0)
            assert response.status in (302, 303, 403), (role, path, response.status)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("link", name="Sign in")).to_have_count(1, timeout=30_000)
