"""Pages are usable on a phone 390 px wide: nothing but a table or the calendar scrolls
sideways, and those scroll inside their own box."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from factories.capacity.weeks import monday_of
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace

PAGES = {
    "buyer_member": ["/home", "/orders", "/orders/new", "/supply/search", "/api/docs"],
    "factory_owner": ["/home", "/supply/onboarding", "/proposals"],
    "operator": ["/home", "/supply/operator/factories", "/disputes"],
}


@pytest.mark.parametrize("role", sorted(PAGES))
def test_main_pages_fit_a_phone(chromium_browser, live_server, live_database, role):
    with live_database.session() as session:
        seed_marketplace(
            session, DemoSpec(factories=12, orders=40, start=monday_of(datetime.now(UTC).date()))
        )
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        email, password = demo_logins()[role]
        page.goto(live_server + "/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(live_server + "/home")
        for path in PAGES[role]:
            page.goto(live_server + path)
            page.wait_for_load_state("networkidle")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide at 390"
    finally:
        context.close()
