from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import select

from factories.capacity import monday_of
from factories.models import Factory
from marketplace.demo import DemoSpec, demo_logins, seed_marketplace


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

    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url(live_server + "/")
    assert page.locator("h1").inner_text() == "闲置机床产能，在工厂之间共享"
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text().startswith("Idle machine capacity")


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
    page.wait_for_url(live_server + "/")
    assert "Bruno Buyer" in page.locator(".account").inner_text()
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("link", name="Sign in").count() == 1
