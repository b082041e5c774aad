import re
from datetime import UTC, datetime

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlmodel import select

from factories.capacity.weeks import monday_of
from factories.models import Factory
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def seed(database, **kwargs):
    with database.session() as session:
        return seed_marketplace(
            session, DemoSpec(start=monday_of(datetime.now(UTC).date()), **kwargs)
        )


def test_a_visitor_browses_the_seeded_marketplace_in_both_languages(
    page, live_server, live_database
):
    summary = seed(live_database, factories=20, orders=30)
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "Idle machine capacity, shared across factories"
    verified = int(page.locator("#verified-factories").inner_text())
    assert 0 < verified <= summary.factories
    assert page.locator("#free-by-process tbody tr").count() > 0

    # The language links go through a redirect back to the same address: wait for the
    # new page's heading rather than reading the one that may still be shown.
    page.get_by_role("link", name="简体中文").click()
    expect(page.locator("h1")).to_have_text("闲置机床产能，在工厂之间共享", timeout=30_000)
    assert page.url == live_server + "/"
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Idle machine capacity"), timeout=30_000)


def test_htmx_refreshes_the_figures_in_place(page, live_server, live_database):
    seed(live_database, factories=10, orders=5)
    page.goto(live_server + "/")
    before = int(page.locator("#verified-factories").inner_text())
    with live_database.session() as session:
        session.execute(sa.update(Factory).values(status="verified"))
        after = session.exec(select(sa.func.count(Factory.id))).one()
    assert after > before
    page.wait_for_function("() => window.htmx !== undefined")
    with page.expect_response(lambda r: "/fragments/marketplace-numbers" in r.url):
        page.evaluate("htmx.trigger('#marketplace-numbers', 'refresh')")
    page.wait_for_function(
        f"() => document.querySelector('#verified-factories').textContent.trim() === '{after}'"
    )
    assert page.locator("h1").count() == 1


def test_demo_login_works_in_a_real_browser(page, live_server, live_database):
    seed(live_database, factories=5, orders=3)
    email, password = demo_logins()["buyer_member"]
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/home")
    assert "Bruno Buyer" in page.locator(".account").inner_text()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_have_count(1, timeout=30_000)
