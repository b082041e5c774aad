"""What the browser tests share: signing in as a demo role, full-page screenshots kept as
test artifacts (and, for the README, a chosen few written to docs/screenshots/), axe-core
run on a page, and the check that a Chinese page holds no English word of ours."""

from __future__ import annotations

import os
import re
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Page

from marketplace.tools.demo.cluster import demo_logins

ARTIFACTS = Path(os.environ.get("FACTORYWEB_ARTIFACTS", "test-artifacts"))
# `make screenshots` sets this: the journeys then also write the README's pictures.
README_SCREENSHOTS = os.environ.get("FACTORYWEB_SCREENSHOTS")
README_WIDTH = 1280
AXE_SOURCE = Path(__file__).with_name("vendor") / "axe.min.js"
# Violations at these levels fail a page; minor and moderate ones are reported in the
# artifacts but do not.
FAILING_IMPACTS = ("serious", "critical")

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
    "milestone": ("note", "carrier", "tracking_number"),
    "document": ("filename",),
}
ENGLISH_WORD = re.compile(r"\b[A-Za-z][a-z'-]{2,}\b")  # acronyms (ABS, ISO, PEEK) are not words


def sign_in(
    page: Page, live_server: str, role: str | None = None, *, email: str = "", password: str = ""
) -> None:
    """Sign in through the form as a demo role, or with an email and password; fields
    are found by name, so that it works whichever language the page is in."""
    if role is not None:
        email, password = demo_logins()[role]
    page.goto(live_server + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(live_server + "/home")


def set_language(page: Page, live_server: str, lang: str) -> None:
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])


def shot(page: Page, area: str, name: str, readme: str | None = None) -> None:
    """A full-page screenshot under the artifacts; `readme` names the picture the README
    shows, written at 1280 px wide when `make screenshots` asks for them."""
    folder = ARTIFACTS / area
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if README_SCREENSHOTS and readme:
        target = Path(README_SCREENSHOTS)
        target.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        page.set_viewport_size({"width": README_WIDTH, "height": 800})
        # The README shows the top of a page, where its point is; long tables are cut.
        page.screenshot(path=str(target / f"{readme}.png"), full_page=False)
        if size:
            page.set_viewport_size(size)


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.x A and AA rules and best
    practices), each with its impact. The context needs `bypass_csp=True`: axe is
    evaluated into the page, which the site's CSP would refuse."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
             const r = await axe.run(document, {resultTypes: ['violations']});
             return r.violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)
             }));
           }"""
    )
    return list(result)


def failing(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in FAILING_IMPACTS]


def typed_texts(session) -> list[str]:
    texts: set[str] = set()
    for table, columns in TYPED.items():
        for column in columns:
            rows = session.execute(sa.text(f'SELECT "{column}" FROM "{table}"'))
            texts |= {str(value) for (value,) in rows if value}
    return sorted(texts, key=len, reverse=True)


def english_words(page: Page, typed: list[str]) -> set[str]:
    text = page.evaluate(
        """() => { const body = document.body.cloneNode(true);
                   body.querySelectorAll('code, pre, script, style').forEach(e => e.remove());
                   return body.innerText; }"""
    )
    for value in typed:
        text = text.replace(value, " ")
    return {w for w in ENGLISH_WORD.findall(text) if w not in ALLOWED}


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))
