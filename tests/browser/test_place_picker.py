"""The place picker in Chromium, under the site's strict CSP: typing a city offers
matches, choosing one fills the country and coordinates, a click on the map picks the
city there; a title typed without spaces counts its characters and wraps on a phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from factories.capacity.weeks import monday_of
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def test_a_buyer_picks_the_delivery_place_by_city_and_on_the_map(
    chromium_browser, live_server, live_database
):
    with live_database.session() as session:
        seed_marketplace(
            session, DemoSpec(factories=6, orders=4, start=monday_of(datetime.now(UTC).date()))
        )
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        email, password = demo_logins()["buyer_member"]
        page.goto(live_server + "/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(live_server + "/home")
        page.goto(live_server + "/orders/new")

        page.locator("#delivery_city").press_sequentially("Shenz", delay=30)
        option = page.locator("#delivery_city-cities option").first
        option.wait_for(state="attached", timeout=30_000)
        assert option.get_attribute("value") == "Shenzhen, China"
        page.locator("#delivery_city").fill("Shenzhen, China")
        assert page.input_value("#delivery_city") == "Shenzhen"
        assert page.input_value("#delivery_country") == "CN"
        assert abs(float(page.input_value("#delivery_latitude")) - 22.55) < 0.1

        world = page.locator("canvas.place-map")
        world.wait_for(state="visible", timeout=30_000)
        # Stuttgart, 48.78° N 9.18° E, on the equirectangular map.
        inner = world.evaluate(
            "canvas => [canvas.clientLeft, canvas.clientWidth, canvas.clientHeight]"
        )
        world.click(
            position={
                "x": inner[0] + (9.18 + 180) / 360 * inner[1],
                "y": inner[0] + (90 - 48.78) / 180 * inner[2],
            }
        )
        expect(page.locator("#delivery_country")).to_have_value("DE", timeout=30_000)
        # A pixel of a phone-wide world map is about a degree: a city near the click.
        assert abs(float(page.input_value("#delivery_latitude")) - 48.78) < 1.5
        assert page.input_value("#delivery_city") not in ("", "Shenzhen")

        title = "Bracket" + "X" * 150
        page.locator("#title").fill(title)
        assert page.inner_text("#title-limit") == f"{len(title)} of 200 characters"
        due = datetime.now(UTC).date() + timedelta(days=28)
        page.locator("#due_date").fill(due.isoformat())
        page.locator("#lines-0-quantity").fill("10")
        page.locator("#lines-0-hours").fill("12")
        page.locator("#lines-0-length_mm").fill("100")
        page.get_by_role("button", name="Save as draft").click()
        page.wait_for_url(f"{live_server}/orders/*")
        assert title in page.inner_text("h1")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"a long title makes the order page {width} px wide"
    finally:
        context.close()
    assert errors == [], errors
