"""The Chinese pages speak Chinese: each role's main pages, read in a real browser, hold no
English word of ours. What people typed (titles, names, cities, reasons), acronyms and
code (API event names, headers in <code>) are not words to translate."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import select

from factories.capacity.weeks import monday_of
from marketplace.orders.models import Order, Proposal
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace

# Names of things, kept as they are in Chinese text.
ALLOWED = {"FactoryWeb", "Webhook", "Webhooks", "English", "Stripe", "Connect", "Express", "Ra"}
# What people and organizations typed or are called, read from the database.
TYPED = {
    "purchase_order": ("title", "delivery_city"),
    "factory": ("name", "city", "region", "status_reason"),
    "app_user": ("display_name", "email"),
    "organization": ("name",),
    "dispute": ("reason", "resolution"),
    "proposal": ("decision_note",),
    "certification": ("issuer", "registration_number", "certificate_version"),
}
ENGLISH_WORD = re.compile(r"\b[A-Za-z][a-z'-]{2,}\b")  # acronyms (ABS, ISO, PEEK) are not words


def typed_texts(session) -> list[str]:
    texts: set[str] = set()
    for table, columns in TYPED.items():
        for column in columns:
            rows = session.execute(sa.text(f'SELECT "{column}" FROM "{table}"'))
            texts |= {str(value) for (value,) in rows if value}
    return sorted(texts, key=len, reverse=True)


def english_words(page, typed: list[str]) -> set[str]:
    text = page.evaluate(
        """() => { const body = document.body.cloneNode(true);
                   body.querySelectorAll('code, pre, script, style').forEach(e => e.remove());
                   return body.innerText; }"""
    )
    for value in typed:
        text = text.replace(value, " ")
    return {w for w in ENGLISH_WORD.findall(text) if w not in ALLOWED}


@pytest.mark.parametrize("role", ["buyer_member", "factory_owner", "operator"])
def test_no_english_word_of_ours_on_the_chinese_pages(
    chromium_browser, live_server, live_database, role
):
    with live_database.session() as session:
        seed_marketplace(
            session, DemoSpec(factories=12, orders=40, start=monday_of(datetime.now(UTC).date()))
        )
    with live_database.session() as session:
        typed = typed_texts(session)
        order_id = session.exec(select(Order.id).order_by(Order.id)).first()
        proposal_id = session.exec(select(Proposal.id).order_by(Proposal.id)).first()
    pages = {
        "buyer_member": ["/home", "/orders", "/orders/new", "/supply/search", "/notifications"],
        "factory_owner": ["/home", "/supply/onboarding", "/proposals", "/payouts"],
        "operator": [
            "/home",
            "/supply/operator/factories",
            "/disputes",
            f"/orders/{order_id}",
            f"/proposals/{proposal_id}",
        ],
    }[role]
    context = chromium_browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "lang", "value": "zh", "url": live_server}])
    page = context.new_page()
    try:
        email, password = demo_logins()[role]
        page.goto(live_server + "/login")
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(password)
        page.locator("form button[type=submit]").click()
        page.wait_for_url(live_server + "/home")
        found = {}
        for path in pages:
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, path
            if words := english_words(page, typed):
                found[path] = sorted(words)
        assert found == {}, f"English left on Chinese pages: {found}"
    finally:
        context.close()
