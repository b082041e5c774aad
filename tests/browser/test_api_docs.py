"""The API documentation a developer browses: Swagger UI from our own files, under the
site's strict CSP, reading the OpenAPI document the API is generated from."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_api_documentation_renders_under_the_csp(page, live_server):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(live_server) and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto(live_server + "/")
    page.get_by_role("link", name="API", exact=True).click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "FactoryWeb API", timeout=30_000
    )
    # Operations of every area are listed, grouped by their tags.
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/v1/orders").count() > 0
    assert violations == [], violations
    assert outside == [], outside


def test_an_error_page_in_chinese_has_a_way_home(chromium_browser, live_server):
    # A page of its own: the browser logs the 404 itself, which the shared page refuses.
    context = chromium_browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "lang", "value": "zh", "url": live_server}])
    page = context.new_page()
    try:
        response = page.goto(live_server + "/no/such/page")
        assert response is not None and response.status == 404
        expect(page.locator("h1")).to_have_text("找不到页面")
        page.get_by_role("link", name="首页").click()
        expect(page.locator("h1")).to_have_text("闲置机床产能，在工厂之间共享", timeout=30_000)
    finally:
        context.close()
