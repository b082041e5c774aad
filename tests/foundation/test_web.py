from datetime import UTC, datetime

from factories.capacity.weeks import monday_of
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


def test_landing_page_shows_the_marketplace_in_numbers(client, db_session):
    summary = seed_marketplace(
        db_session, DemoSpec(factories=30, orders=40, start=monday_of(datetime.now(UTC).date()))
    )
    db_session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "Idle machine capacity" in page
    assert 'id="verified-factories"' in page
    verified = page.split('id="verified-factories">')[1].split("<")[0]
    assert 0 < int(verified) <= summary.factories
    free_hours = page.split('id="free-hours">')[1].split("<")[0]
    assert int(free_hours) > 0
    assert 'id="free-by-process"' in page
    open_orders = int(page.split('id="open-orders">')[1].split("<")[0])
    assert open_orders == sum(
        summary.orders_by_state.get(s, 0) for s in ("open", "matching", "proposed")
    )


def test_empty_marketplace_says_so(client):
    page = client.get("/").get_data(as_text=True)
    assert "No free capacity has been published" in page


def test_simplified_chinese_from_the_first_page(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "闲置机床产能" in page
    assert 'lang="zh-Hans"' in page


def test_language_switch_sets_a_cookie_and_returns_to_the_page(client):
    response = client.get("/lang/zh?next=/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "lang=zh" in response.headers["Set-Cookie"]
    assert "平台数据一览" in client.get("/").get_data(as_text=True)
    client.get("/lang/en")
    assert "The marketplace in numbers" in client.get("/").get_data(as_text=True)


def test_language_switch_is_not_an_open_redirect(client):
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.headers["Location"] == "/"


def test_unknown_language_is_not_found(client):
    assert client.get("/lang/xx").status_code == 404


def test_figures_refresh_in_place_with_htmx(client):
    page = client.get("/").get_data(as_text=True)
    assert 'hx-get="/fragments/marketplace-numbers"' in page
    assert "/static/vendor/htmx.min.js" in page
    fragment = client.get("/fragments/marketplace-numbers")
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert 'id="marketplace-numbers"' in body and "<html" not in body
    with client.get("/static/vendor/htmx.min.js") as script:
        assert script.status_code == 200
