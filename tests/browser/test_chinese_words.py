"""The Chinese pages speak Chinese: each role's main pages, read in a real browser, hold no
English word of ours. What people typed (titles, names, cities, reasons), acronyms and
code (API event names, headers in <code>) are not words to translate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from factories.capacity.weeks import monday_of
from marketplace.orders.models import Order, Proposal
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.browser.pages import english_words, set_language, sign_in, typed_texts


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
    page = context.new_page()
    set_language(page, live_server, "zh")
    try:
        sign_in(page, live_server, role)
        found = {}
        for path in pages:
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, path
            if words := english_words(page, typed):
                found[path] = sorted(words)
        assert found == {}, f"English left on Chinese pages: {found}"
    finally:
        context.close()
