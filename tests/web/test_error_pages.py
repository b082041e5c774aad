"""Error pages are pages of the site: its layout, the reader's language, a way back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict as ConflictPage

from factories.errors import Conflict, InputError
from marketplace.accounts.models import OrganizationKind, Role

ZH = {"Accept-Language": "zh-CN"}


def in_layout(page: str) -> bool:
    return 'class="topbar"' in page and "<footer>" in page and 'class="error-page"' in page


@pytest.fixture
def factory_person(make_member):
    return make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)


@pytest.fixture
def failing_app(app):
    """Routes that fail the ways a page can, registered before the first request."""

    def conflict() -> str:
        raise Conflict("The order was confirmed meanwhile.")

    def refused() -> str:
        raise InputError("hours", "must be more than zero")

    def broken() -> str:
        raise RuntimeError("a bug")

    def database_gone() -> str:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    def plain_conflict() -> str:
        raise ConflictPage()

    for name, view in {
        "conflict": conflict,
        "refused": refused,
        "broken": broken,
        "database-gone": database_gone,
        "plain-conflict": plain_conflict,
    }.items():
        app.add_url_rule(f"/test-errors/{name}", name, view)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_a_missing_page_is_a_page_of_the_site_with_a_way_home(client):
    response = client.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert in_layout(page)
    assert "Page not found" in page and "Error 404" in page
    assert 'href="/"' in page


def test_the_way_back_is_the_previous_page_of_this_site_only(client):
    page = client.get("/nowhere", headers={"Referer": "http://localhost/supply/search?q=1"})
    assert 'href="/supply/search?q=1"' in page.get_data(as_text=True)
    page = client.get("/nowhere", headers={"Referer": "https://evil.example/phish"})
    text = page.get_data(as_text=True)
    assert "evil.example" not in text and "Back to the previous page" not in text


def test_a_page_not_open_to_this_role_says_so_in_both_languages(browser, factory_person):
    browser.login(factory_person)
    response = browser.get("/supply/search")
    page = response.get_data(as_text=True)
    assert response.status_code == 403 and in_layout(page)
    assert "This page is not open to you" in page
    assert factory_person.user.display_name in page  # still signed in, in the layout
    chinese = browser.get("/supply/search", headers=ZH).get_data(as_text=True)
    assert "Page not found" not in chinese and "This page is not open to you" not in chinese
    assert 'lang="zh-Hans"' in chinese and "错误 403" in chinese


def test_a_wrong_method_and_a_missing_form_token_are_pages_too(client):
    response = client.post("/")
    assert response.status_code == 405 and in_layout(response.get_data(as_text=True))
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and in_layout(page)
    assert "This request could not be handled" in page


def test_what_the_service_said_is_shown_in_the_readers_words(failing_app):
    client = failing_app.test_client()
    response = client.get("/test-errors/conflict")
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and in_layout(page)
    assert "Something changed meanwhile" in page
    assert "The order was confirmed meanwhile." in page
    response = client.get("/test-errors/refused")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "must be more than zero" in page
    # Werkzeug's own English description is not repeated under the page's words.
    page = client.get("/test-errors/plain-conflict").get_data(as_text=True)
    assert ConflictPage.description not in page


def test_a_bug_is_a_500_page_that_keeps_nothing_and_reveals_nothing(failing_app):
    response = failing_app.test_client().get("/test-errors/broken")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and in_layout(page)
    assert "Something went wrong on our side" in page
    assert "RuntimeError" not in page and "a bug" not in page


def test_a_database_outage_is_a_503_page_with_when_to_try_again(failing_app):
    response = failing_app.test_client().get("/test-errors/database-gone", headers=ZH)
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and in_layout(page)
    assert response.headers["Retry-After"].isdigit()
    assert "错误 503" in page


def test_the_api_still_answers_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.is_json
