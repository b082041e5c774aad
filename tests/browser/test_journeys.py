"""Each role's main journey in Chromium, end to end on one live server with the demo
market seeded, under the site's CSP; each journey then reads its main pages in Chinese
(no English word of ours left). Full-page screenshots are kept as test artifacts
(`FACTORYWEB_ARTIFACTS`, default ./test-artifacts/journeys); `make screenshots` also
writes the README's pictures from them.

- A factory owner signs up (the confirmation link read from a real SMTP server),
  registers the factory, adds a capability, fills the capacity calendar, and, once an
  operator has verified the factory and a buyer's order came, accepts the proposal.
- A buyer searches, posts a two-line order, matches it, reads the split allocation with
  prices and weeks, pays on the simulated gateway and confirms the delivery.
- An operator verifies a pending factory and resolves a dispute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlmodel import col, select

from factories.capacity.weeks import monday_of
from factories.models import Factory, FactoryStatus
from marketplace.orders.models import (
    Dispute,
    Order,
    OrderState,
    Proposal,
    ProposalState,
)
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.browser.journeys import (
    STUTTGART,
    OrderLineText,
    World,
    accept_for_the_factories,
    choose,
    confirmation_link,
    match,
    order_state,
    page_material,
    post_order,
    process_nobody_offers,
    read_in_chinese,
    ship,
    wait_for_state,
)
from tests.browser.pages import shot, sign_in
from tests.live import serve


@pytest.fixture(scope="module")
def world(live_database, smtp_server, tmp_path_factory) -> Iterator[World]:
    inbox, port = smtp_server
    uploads = tmp_path_factory.mktemp("uploads")
    with serve(
        live_database,
        ORDERS_RUNNER="thread",
        ORDERS_UPLOAD_FOLDER=str(uploads),
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
    ) as url:
        with live_database.session() as session:
            seed_marketplace(
                session,
                DemoSpec(factories=16, orders=30, start=monday_of(datetime.now(UTC).date())),
            )
        yield World(url, live_database, inbox, uploads)


@pytest.fixture
def browser_page(chromium_browser, world, request):
    """A page under the site's CSP that fails the test on any script error or CSP
    violation it logs; where it ended is kept as a screenshot, to see why one failed."""
    context = chromium_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    shot(page, "journeys", f"last-{request.node.name}")
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def test_a_factory_owner_registers_fills_the_calendar_and_accepts_work(
    chromium_browser, browser_page, world
):
    page = browser_page
    email, password = "lena.fischer@fischer-feinwerk.example", "journey-password-1"
    page.goto(world.url + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("link", name=re.compile("account", re.I)).first.click()
    page.get_by_label("Your name").fill("Lena Fischer")
    page.get_by_label("Email").fill(email)
    page.locator("[name=password]").fill(password)
    page.locator("[name=confirm]").fill(password)
    page.get_by_label("Organization name").fill("Fischer Feinwerk")
    page.locator("[name=kind][value=factory]").check()
    choose(page, "country", "DE")
    shot(page, "journeys", "factory-signup")
    page.locator("form button[type=submit]").click()
    page.wait_for_url(world.url + "/signup/sent")

    link = confirmation_link(world.inbox, email, "/signup/confirm/")
    page.goto(world.url + link[link.index("/signup/confirm/") :])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(world.url + "/supply/onboarding")

    with world.database.session() as session:
        process = process_nobody_offers(session)
    page.get_by_label("Factory name").fill("Fischer Feinwerk Stuttgart")
    choose(page, "country", "DE")
    page.get_by_label("Region").fill("Baden-Württemberg")
    page.get_by_label("City").fill("Stuttgart")
    page.locator("[name=latitude]").fill(str(STUTTGART[0]))
    page.locator("[name=longitude]").fill(str(STUTTGART[1]))
    shot(page, "journeys", "factory-register", readme="factory-register")
    page.locator("#register-factory button[type=submit]").click()
    page.wait_for_url(re.compile(r"/supply/factories/\d+$"))
    factory_id = int(page.url.rsplit("/", 1)[1])

    page.get_by_role("link", name="Add a capability").click()
    page.locator("[name=process_code]").select_option(process)
    materials = page.locator("[name=materials]")
    if materials.count():
        materials.first.check()
    for name, value in (("max_length_mm", "800"), ("max_width_mm", "600")):
        page.locator(f"[name={name}]").fill(value)
    page.locator("[name=max_height_mm]").fill("400")
    page.locator("[name=hourly_rate]").fill("82.50")
    page.locator("main form button[type=submit]").first.click()
    # A new capability leads to the calendar, to publish its hours.
    page.wait_for_url(re.compile(rf"/supply/factories/{factory_id}/capacity$"))
    fill = page.locator("#fill-form")
    fill.locator("[name=hours]").fill("40")
    fill.locator("[name=weeks]").fill("8")
    fill.locator("button[type=submit]").click()
    expect(page.locator("#capacity-grid input[type=number]").first).to_have_value("40")
    # One week edited in the grid: saved on change, in place.
    cell = page.locator("#capacity-grid input[type=number]").nth(2)
    cell.fill("24")
    cell.dispatch_event("change")
    expect(page.locator("#capacity-grid .saved")).to_have_count(1, timeout=30_000)
    shot(page, "journeys", "factory-calendar", readme="factory-calendar")
    page.locator("main h1 a").click()
    page.wait_for_url(re.compile(rf"/supply/factories/{factory_id}$"))
    shot(page, "journeys", "factory-profile")

    # An operator verifies the factory; a buyer orders what only it can make.
    operator = chromium_browser.new_context(locale="en-US").new_page()
    sign_in(operator, world.url, "operator")
    operator.goto(world.url + "/supply/operator/factories")
    row = operator.locator("tr", has_text="Fischer Feinwerk Stuttgart")
    row.get_by_role("button", name="Verify").click()
    expect(operator.locator(".flash")).to_contain_text("verified")
    buyer = operator.context.browser.new_context(locale="en-US").new_page()
    sign_in(buyer, world.url, "buyer_member")
    material = page_material(world, factory_id)
    order_id = post_order(
        buyer, world.url, "Housings for the pilot run", [OrderLineText(process, material, 12, 30)]
    )
    match(buyer)
    operator.context.close()
    buyer.context.close()

    page.goto(world.url + "/home")
    shot(page, "journeys", "factory-home")
    page.get_by_role("link", name="Proposals").first.click()
    proposal_row = page.locator("tbody tr", has_text=f"#{order_id}")
    proposal_row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/proposals/\d+$"))
    proposal_id = int(page.url.rsplit("/", 1)[1])
    shot(page, "journeys", "factory-proposal", readme="factory-proposal")
    page.get_by_role("button", name="Accept").click()
    expect(page.locator("#proposal-state")).to_have_class(re.compile("state-accepted"))
    with world.database.session() as session:
        assert session.get(Proposal, proposal_id).state == ProposalState.ACCEPTED
        assert session.get(Order, order_id).state == OrderState.AWAITING_PAYMENT

    read_in_chinese(
        page,
        world,
        "factory",
        {
            "home": "/home",
            "profile": f"/supply/factories/{factory_id}",
            "calendar": f"/supply/factories/{factory_id}/capacity",
            "proposals": "/proposals",
            "proposal": f"/proposals/{proposal_id}",
        },
        readme="calendar",
    )


def test_a_buyer_posts_a_two_line_order_pays_and_confirms_delivery(browser_page, world):
    page = browser_page
    sign_in(page, world.url, "buyer_member")
    shot(page, "journeys", "buyer-home")
    page.get_by_role("link", name="Find factories").click()
    page.locator("[name=process]").select_option("milling_3axis")
    page.locator("#search-form button[type=submit]").click()
    expect(page.locator("#search-results article.result").first).to_be_visible()
    shot(page, "journeys", "buyer-search", readme="buyer-search")

    order_id = post_order(
        page,
        world.url,
        "Gearbox housings and shafts",
        [
            OrderLineText("milling_3axis", "aluminium", 40, 160, splittable=True),
            OrderLineText("turning", "steel", 60, 48),
        ],
    )
    expect(page.locator("#order-state")).to_have_class(re.compile("state-open"))
    match(page)
    page.reload()
    proposals = page.locator("#proposals tbody tr")
    expect(proposals.first).to_be_visible()
    with world.database.session() as session:
        made = session.exec(select(Proposal).where(Proposal.order_id == order_id)).all()
    factories = {p.factory_id for p in made}
    assert len(factories) >= 2, "the two lines went to more than one factory"
    assert proposals.count() == len(made)
    expect(page.locator("#proposals")).to_contain_text("€")
    shot(page, "journeys", "buyer-order", readme="buyer-order")

    page.get_by_role("link", name="Run details and downloads").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_path = page.url.removeprefix(world.url)
    shot(page, "journeys", "buyer-run")
    page.goto(f"{world.url}/orders/{order_id}")
    page.locator("#proposals tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/proposals/\d+$"))
    proposal_path = page.url.removeprefix(world.url)
    shot(page, "journeys", "buyer-proposal", readme="buyer-proposal")
    expect(page.locator("main table").first).to_contain_text("week")

    accept_for_the_factories(world.database, order_id)
    page.goto(f"{world.url}/orders/{order_id}")
    expect(page.locator("#order-state")).to_have_class(re.compile("state-awaiting_payment"))
    page.get_by_role("link", name=re.compile(r"^Pay ")).first.click()
    page.wait_for_url(re.compile(rf"/orders/{order_id}/pay$"))
    shot(page, "journeys", "buyer-pay", readme="buyer-pay")
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(rf"/orders/{order_id}$"))
    # The gateway is called after the request, in the background: the buyer looks again.
    wait_for_state(page, "confirmed")

    ship(world, order_id)
    page.reload()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm delivery").click()
    expect(page.locator("#order-state")).to_have_class(re.compile("state-delivered"))
    assert order_state(world.database, order_id) == OrderState.DELIVERED
    shot(page, "journeys", "buyer-delivered")

    read_in_chinese(
        page,
        world,
        "buyer",
        {
            "home": "/home",
            "search": "/supply/search?process=milling_3axis",
            "new-order": "/orders/new",
            "order": f"/orders/{order_id}",
            "run": run_path,
            "proposal": proposal_path,
        },
        readme="order",
    )


def test_an_operator_verifies_a_factory_and_resolves_a_dispute(browser_page, world):
    page = browser_page
    with world.database.session() as session:
        pending = session.exec(
            select(Factory).where(Factory.status == FactoryStatus.PENDING).order_by(col(Factory.id))
        ).first()
        dispute = session.exec(
            select(Dispute).where(col(Dispute.resolved_at).is_(None)).order_by(col(Dispute.id))
        ).first()
        assert pending is not None and dispute is not None, "the demo has both"
        pending_id, pending_name = pending.id, pending.name
        dispute_id, dispute_reason = dispute.id, dispute.reason
    sign_in(page, world.url, "operator")
    shot(page, "journeys", "operator-home", readme="operator-home")

    page.get_by_role("link", name="Factories", exact=True).click()
    shot(page, "journeys", "operator-factories")
    page.locator("tr", has_text=pending_name).get_by_role("button", name="Verify").click()
    expect(page.locator(".flash")).to_contain_text(pending_name)
    with world.database.session() as session:
        assert session.get(Factory, pending_id).status == FactoryStatus.VERIFIED

    page.get_by_role("link", name="Disputes", exact=True).click()
    shot(page, "journeys", "operator-disputes")
    page.locator("tbody tr", has_text=dispute_reason).locator("a").first.click()
    page.wait_for_url(re.compile(r"/orders/\d+#disputes$"))
    form = page.locator(f"form[action$='/disputes/{dispute_id}/resolve']")
    form.locator("[name=resolution]").fill("12 parts missing: their price goes back to the buyer.")
    refunds = form.locator("input[name^=refund_]")
    if refunds.count():
        refunds.first.fill("10")
    shot(page, "journeys", "operator-dispute-order", readme="operator-dispute-order")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()
    with world.database.session() as session:
        assert session.get(Dispute, dispute_id).resolved_at is not None

    page.get_by_role("link", name="Cluster", exact=True).click()
    expect(page.locator("#chart-fill svg.main-svg").first).to_be_visible(timeout=30_000)
    shot(page, "journeys", "operator-dashboard", readme="operator-dashboard")

    read_in_chinese(
        page,
        world,
        "operator",
        {
            "home": "/home",
            "factories": "/supply/operator/factories",
            "disputes": "/disputes",
            "dashboard": "/operator",
        },
        readme="dashboard",
    )
