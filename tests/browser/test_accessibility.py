"""Every main page of each role passes axe-core (no serious or critical violation), in
English and in Chinese; a form is filled and sent with the keyboard alone; every main
page fits a phone 390 px wide (this replaces the former test_phone).

axe is evaluated into the page, which the site's Content-Security-Policy forbids: the
axe contexts bypass the CSP, and only they do (test_api_docs and the journeys run under
the policy and fail on any violation it reports)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, select

from factories.capacity.weeks import monday_of
from factories.models import Factory, FactoryStatus
from marketplace.accounts.models import Membership, User
from marketplace.orders.models import Dispute, MatchRun, Order, Proposal
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.browser.pages import (
    ARTIFACTS,
    axe_violations,
    failing,
    page_width,
    set_language,
    sign_in,
)
from tests.live import serve


@dataclass(frozen=True)
class Demo:
    url: str
    pages: dict[str, list[str]]


def organization_of(session, role: str) -> int:
    email, _ = demo_logins()[role]
    user = session.exec(select(User).where(User.email == email)).one()
    return session.exec(
        select(Membership.organization_id).where(Membership.user_id == user.id)
    ).one()


def main_pages(session) -> dict[str, list[str]]:
    """The main pages of each role, on the seeded demo's own rows."""
    buyer = organization_of(session, "buyer_member")
    owner = organization_of(session, "factory_owner")
    proposal = session.exec(
        select(Proposal)
        .join(Order, col(Order.id) == col(Proposal.order_id))
        .where(Order.buyer_organization_id == buyer)
        .order_by(col(Proposal.id).desc())
    ).first()
    assert proposal is not None, "the demo buyer has a proposal"
    run = session.get(MatchRun, proposal.match_run_id)
    factory = session.exec(
        select(Factory).where(Factory.organization_id == owner).order_by(Factory.id)
    ).first()
    verified = session.exec(
        select(Factory.id).where(Factory.status == FactoryStatus.VERIFIED).order_by(Factory.id)
    ).first()
    owners_proposal = session.exec(
        select(Proposal.id).where(Proposal.factory_id == factory.id).order_by(Proposal.id)
    ).first()
    assert session.exec(select(Dispute.id)).first() is not None, "the demo has a dispute"
    return {
        "visitor": ["/", "/login", "/signup", "/api/docs", "/no/such/page"],
        "buyer_member": [
            "/home",
            "/supply/search?process=milling_3axis",
            "/orders/new",
            "/orders",
            f"/orders/{proposal.order_id}",
            f"/proposals/{proposal.id}",
            f"/runs/{run.id}",
            f"/supply/factories/{verified}",
            f"/supply/factories/{verified}/credit",
            "/notifications",
        ],
        "factory_owner": [
            "/home",
            "/supply/onboarding",
            f"/supply/factories/{factory.id}",
            f"/supply/factories/{factory.id}/capacity",
            "/proposals",
            *([f"/proposals/{owners_proposal}"] if owners_proposal else []),
            "/payouts",
        ],
        "operator": [
            "/home",
            "/operator",
            "/operator/network",
            "/operator/whatif",
            "/disputes",
            "/supply/operator/factories",
            "/operator/money",
        ],
    }


@pytest.fixture(scope="module")
def demo(live_database) -> Iterator[Demo]:
    with serve(live_database) as url:
        with live_database.session() as session:
            seed_marketplace(
                session,
                DemoSpec(factories=16, orders=40, start=monday_of(datetime.now(UTC).date())),
            )
        with live_database.session() as session:
            pages = main_pages(session)
        yield Demo(url, pages)


def settle(page: Page) -> None:
    """Wait for what scripts draw after loading (the operator's charts and map)."""
    page.wait_for_load_state("load")
    if page.locator(".chart").count():
        page.wait_for_selector(".chart svg.main-svg", timeout=30_000)
    if page.locator("#swagger-ui").count():
        page.wait_for_selector("#swagger-ui .opblock", timeout=30_000)
    if page.locator("#network-map").count():
        page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("role", ["visitor", "buyer_member", "factory_owner", "operator"])
def test_main_pages_have_no_serious_accessibility_violation(chromium_browser, demo, role):
    context = chromium_browser.new_context(bypass_csp=True, locale="en-US")
    page = context.new_page()
    try:
        if role != "visitor":
            sign_in(page, demo.url, role)
        found, reported = {}, {}
        for lang in ("en", "zh"):
            set_language(page, demo.url, lang)
            # Chinese changes the words, not the markup: the first pages of each role suffice.
            paths = demo.pages[role] if lang == "en" else demo.pages[role][:3]
            for path in paths:
                page.goto(demo.url + path)
                settle(page)
                violations = axe_violations(page)
                if violations:
                    reported[f"{lang} {path}"] = violations
                if serious := failing(violations):
                    found[f"{lang} {path}"] = serious
        # Every finding, minor and moderate ones too, for the next round of fixes.
        report = ARTIFACTS / "axe" / f"{role}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(reported, indent=2, ensure_ascii=False), encoding="utf-8")
        assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
    finally:
        context.close()


def test_a_form_is_filled_and_sent_with_the_keyboard_alone(chromium_browser, demo):
    """Sign-in and the search form, reached by Tab from the top of the page and sent by
    Enter: every control is in the tab order, with a visible focus."""
    context = chromium_browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        email, password = demo_logins()["buyer_member"]
        page.goto(demo.url + "/login")

        def tab_to(selector: str, limit: int = 40) -> None:
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
                    outline = page.evaluate(
                        "(() => { const s = getComputedStyle(document.activeElement);"
                        " return s.outlineStyle !== 'none' || s.boxShadow !== 'none'; })()"
                    )
                    assert outline, f"{selector} has no visible focus"
                    return
            raise AssertionError(f"{selector} is not reached by Tab")

        page.locator("body").focus()
        tab_to("input[name=email]")
        page.keyboard.type(email)
        tab_to("input[name=password]")
        page.keyboard.type(password)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == demo.url + "/home"

        page.goto(demo.url + "/supply/search")
        tab_to("select[name=process]")
        page.keyboard.press("End")  # a process chosen from the list by keys
        chosen = page.locator("select[name=process]").input_value()
        assert chosen
        tab_to(".search-form button[type=submit], .search-form input[type=submit]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert f"process={chosen}" in page.url
        expect(page.locator("main h1")).to_be_visible()
    finally:
        context.close()


# Pages a phone reaches besides the main pages of each role.
PHONE_PAGES = {
    "visitor": [],
    "buyer_member": ["/supply/search"],
    "factory_owner": ["/orders"],
    "operator": ["/orders"],
}


@pytest.mark.parametrize("role", sorted(PHONE_PAGES))
def test_pages_fit_a_phone(chromium_browser, demo, role):
    """Every main page 390 px wide: only tables and the calendar scroll sideways, inside
    their own box; the rest reflows."""
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        if role != "visitor":
            sign_in(page, demo.url, role)
        wide = {}
        for path in demo.pages[role] + PHONE_PAGES[role]:
            page.goto(demo.url + path)
            settle(page)
            if (width := page_width(page)) > 390:
                wide[path] = width
            if path.endswith("/capacity"):
                # The calendar is wider than the phone: it scrolls inside its own box.
                boxes = page.locator(
                    "#capacity-grid .table-scroll, #capacity-grid table"
                ).evaluate_all("es => es.map(e => [e.scrollWidth, e.clientWidth])")
                assert any(inner > outer and outer <= 390 for inner, outer in boxes), boxes
        assert wide == {}, f"pages wider than the phone: {wide}"
    finally:
        context.close()
